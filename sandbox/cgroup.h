// Per-run cgroups: host detection (cgroup v1 memory+pids[+cpuacct] hierarchies, or cgroup v2
// with the memory and pids controllers), one RAII group per run with memory and pids limits,
// kill-everything, and accounting. Small synchronous cgroupfs I/O (in-memory): fine on the loop
// thread. Not thread-safe per object. Depends on base only.
//
// Lifecycle (core, as root):
//   CgroupHost host = DetectCgroups();              // once at start; kNone -> rlimits only
//   auto cg = RunCgroup::Create(host, run_name, {memory_bytes, pids_max});
//   policy.cgroup_procs = cg->procs_files();         // the launcher joins before exec
//   ... spawn the launcher; optionally cg->SampleMemory() on a timer (v2 without memory.peak) ...
//   on timeout/cancel/after the main pid exited: cg->KillAll();   // ends setsid daemons too
//   stats = cg->ReadStats();                         // peak memory, OOM kills, pids, CPU
//   cg.reset() / destructor                          // rmdir (after KillAll)
//   RemoveCgroupParents(host) at shutdown.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "supervisor/base/result.h"
#include "supervisor/base/status.h"

namespace hero::sandbox {

// The OS behind an interface (tests use an in-memory fake for the v2 logic this host cannot
// mount). Paths are absolute. The real implementation never creates files: cgroupfs does.
class CgroupFs {
 public:
  virtual ~CgroupFs() = default;
  // NotFound if missing; other errors from errno.
  virtual Result<std::string> ReadFile(const std::string& path) = 0;
  // Writes `data` to an existing file in one write(2) (cgroupfs parses per write).
  virtual Status WriteFile(const std::string& path, std::string_view data) = 0;
  virtual bool Exists(const std::string& path) = 0;
  virtual bool Writable(const std::string& dir) = 0;      // access(W_OK)
  virtual Status MakeDir(const std::string& path) = 0;    // AlreadyExists if it exists
  virtual Status RemoveDir(const std::string& path) = 0;  // Unavailable if busy (EBUSY)
  virtual std::vector<std::string> ListDirs(const std::string& path) = 0;  // subdirectory names
  // SIGKILLs every process listed (one pid per line) in `procs_path`, never a process that is
  // not (or no longer) in that cgroup: pids are pinned with pidfds and re-checked against a
  // second read. Returns how many were signalled.
  virtual Result<size_t> KillListed(const std::string& procs_path) = 0;
  virtual bool ProcessAlive(pid_t pid) = 0;  // kill(pid, 0) != ESRCH
  virtual void Sleep(std::chrono::milliseconds d) = 0;
};

// The process-wide real implementation.
CgroupFs& RealCgroupFs();

struct CgroupHost {
  enum Kind { kNone, kV1, kV2 };
  Kind kind = kNone;
  // Parent groups for this supervisor's runs ("<own cgroup>/hero_logic-<pid>"), absolute.
  // v1: memory and pids are set for kV1; cpu_root (cpuacct hierarchy) may be empty.
  std::string memory_root, pids_root, cpu_root;
  std::string unified_root;        // v2
  std::string why_none;            // kNone: why (human-readable); otherwise empty
  std::vector<std::string> notes;  // what detection did (moved itself into a leaf, ...)
};

std::string_view CgroupKindName(CgroupHost::Kind kind);  // "none" / "v1" / "v2"

struct CgroupDetectOptions {
  // true: prepare for use (v2: may move this process into a leaf "<own>/hero_logic-<pid>.self"
  // to satisfy the no-internal-process rule, enables +memory +pids, creates the parent
  // groups; both: removes parents of dead supervisors). false: probe only, write nothing
  // (doctor); the result then says what setup would give.
  bool setup = true;
  std::string parent_name;  // default "hero_logic-<getpid()>"; [A-Za-z0-9_.-]+
  std::string mountinfo_path = "/proc/self/mountinfo";
  std::string proc_cgroup_path = "/proc/self/cgroup";
  CgroupFs* fs = nullptr;  // default RealCgroupFs()
};

// Prefers v2 when the unified hierarchy offers memory and pids to our cgroup, else v1 when the
// memory and pids hierarchies are mounted and writable, else kNone with why_none. Per-run groups
// nest under the supervisor's own cgroup (so they stay inside any limit placed on it).
CgroupHost DetectCgroups(const CgroupDetectOptions& options = CgroupDetectOptions());

// "cgroups: v1 (memory, pids, cpuacct) — per-run memory and pids limits" or
// "cgroups: none writable — limits by rlimits only (<why>)". One line, no newline.
std::string DescribeCgroups(const CgroupHost& host);

// Removes the (empty) per-supervisor parent groups; call at shutdown after every RunCgroup is
// gone. Busy parents are left (logged).
Status RemoveCgroupParents(const CgroupHost& host, CgroupFs* fs = nullptr);

struct CgroupLimits {
  uint64_t memory_bytes = 0;  // 0 = no memory limit. Swap is disabled for the group when the
                              // kernel exposes it (v2 memory.swap.max=0, v1 memsw = memory).
  uint64_t pids_max = 0;      // 0 = no pids limit. Counts threads too.
};

struct CgroupStats {
  std::optional<uint64_t> memory_peak_bytes;  // v2 memory.peak or sampled max; v1 max_usage
  std::optional<uint64_t> memory_current_bytes;
  std::optional<uint64_t> oom_kills;          // v2 memory.events oom_kill; v1 oom_control
  std::optional<uint64_t> memory_limit_hits;  // v2 memory.events max; v1 memory.failcnt
  std::optional<uint64_t> pids_peak;          // pids.peak (kernel >= 6.1)
  std::optional<uint64_t> pids_limit_hits;    // pids.events max: forks refused by pids.max
  std::optional<uint64_t> cpu_usage_usec;     // v2 cpu.stat usage_usec; v1 cpuacct.usage / 1000
  std::optional<uint64_t> cpu_user_usec;      // v2 user_usec; v1 cpuacct.usage_user / 1000
  std::optional<uint64_t> cpu_system_usec;    // v2 system_usec; v1 cpuacct.usage_sys / 1000
};

// One run's group(s). Move-only; the destructor removes the directories (rmdir, retried briefly
// while the kernel finishes exits; at most ~50 ms), and logs and leaves a group that still has
// processes in it: call KillAll first.
class RunCgroup {
 public:
  // name: [A-Za-z0-9_.-]{1,64}, not "." or "..". Creates the parent group if missing, then
  // "<parent>/<name>" under each root (a stale empty group of that name is replaced), and writes
  // the limits. FailedPrecondition if host.kind == kNone; InvalidArgument for a bad name;
  // AlreadyExists if a group of that name still holds processes; errno-mapped errors otherwise.
  // On error nothing is left behind.
  static Result<RunCgroup> Create(const CgroupHost& host, std::string_view name,
                                  const CgroupLimits& limits, CgroupFs* fs = nullptr);

  RunCgroup(RunCgroup&& other) noexcept;
  RunCgroup& operator=(RunCgroup&& other) noexcept;
  RunCgroup(const RunCgroup&) = delete;
  RunCgroup& operator=(const RunCgroup&) = delete;
  ~RunCgroup();

  CgroupHost::Kind kind() const { return kind_; }
  // The group directories (v2: one; v1: memory, pids[, cpuacct]).
  const std::vector<std::string>& dirs() const { return dirs_; }
  // The cgroup.procs files the launcher writes itself into before exec (Policy::cgroup_procs).
  std::vector<std::string> procs_files() const;
  // Pids currently in the group (union over the hierarchies), sorted.
  std::vector<pid_t> Pids() const;

  // SIGKILLs everything in the group, setsid daemons included (v2: cgroup.kill, else freeze +
  // kill every member + thaw; v1: kill every member, repeated: pids.max bounds a fork race),
  // then waits up to `max_wait` for the group to be empty. Ok = empty. Still populated:
  // DeadlineExceeded, or Unavailable with max_wait 0 (signals sent; poll Pids() from a timer
  // to stay off the loop for long, then KillAll again). SIGKILLed tasks usually leave within
  // a few ms. Zombies are not members: the supervisor still reaps its own children.
  Status KillAll(std::chrono::milliseconds max_wait = std::chrono::milliseconds(1000));

  // v2 without memory.peak (kernel < 5.19): folds memory.current into the sampled peak.
  // Cheap; call from a timer if peaks matter on such kernels. No-op elsewhere.
  void SampleMemory();

  // Reads what the host exposes; absent files leave fields empty. Error only if nothing could
  // be read at all.
  Result<CgroupStats> ReadStats();

 private:
  RunCgroup(CgroupHost::Kind kind, CgroupFs* fs) : kind_(kind), fs_(fs) {}
  Status Remove();

  CgroupHost::Kind kind_ = CgroupHost::kNone;
  CgroupFs* fs_ = nullptr;
  std::vector<std::string> dirs_;  // created, in creation order
  std::string memory_dir_, pids_dir_, cpu_dir_, unified_dir_;
  uint64_t sampled_peak_ = 0;
};

// Pure parsers (unit-tested on fixture strings).
struct MountInfoEntry {
  std::string root;           // 4th field: the mount's root within its filesystem
  std::string mount_point;    // 5th field, octal escapes (\040) decoded
  std::string fstype;         // after " - "
  std::string super_options;  // last field, e.g. "rw,memory"
};
std::vector<MountInfoEntry> ParseMountInfo(std::string_view text);

struct ProcCgroupEntry {
  int hierarchy_id = -1;
  std::vector<std::string> controllers;  // empty for v2 ("0::/path")
  std::string path;
};
std::vector<ProcCgroupEntry> ParseProcCgroup(std::string_view text);

// "key value" lines (memory.events, cpu.stat, pids.events, memory.oom_control).
std::optional<uint64_t> FlatKeyedValue(std::string_view text, std::string_view key);
// A single number ("123\n"); "max" -> nullopt.
std::optional<uint64_t> SingleValue(std::string_view text);
// Space-separated words (cgroup.controllers, cgroup.subtree_control) contain `word`.
bool HasWord(std::string_view text, std::string_view word);

}  // namespace hero::sandbox
