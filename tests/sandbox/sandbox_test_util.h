// Helpers for the sandbox integration tests: a per-test runtime dir / workdir, and a tiny
// "supervisor" that spawns hero_launcher, captures output and answers seccomp notifications.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "sandbox/policy.h"
#include "sandbox/seccomp_notify.h"

namespace hero::sandbox::testing {

inline constexpr uid_t kRunUid = 200123;
inline constexpr gid_t kRunGid = 200123;
inline constexpr const char* kCanary = "sbx-canary-env-integration";

struct RunOutput {
  bool spawned = false;
  int exit_code = -1;   // when exited normally
  int term_signal = 0;  // when killed by a signal
  bool timed_out = false;
  std::string out, err;
  bool listener_received = false;
  std::vector<BlockedCall> blocked;
  std::string Describe() const;  // for assertion messages
};

// Spawns argv[0] with the test process's own environment (canary included) and fds 0-4 laid
// out as the supervisor does; `notify` adds fd 4. Waits for the launcher pid to exit, then
// drains output for at most `drain_ms` more (an orphan may hold the pipes).
RunOutput RunLauncher(const std::vector<std::string>& argv, bool notify, int timeout_s = 90,
                      int drain_ms = 2000);

// A runtime dir (bin/hero_launcher copy + py/), a workdir owned by kRunUid, and a root-only
// run dir holding flow.py / input.json. Removed on destruction.
class Scratch {
 public:
  Scratch();
  ~Scratch();
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  // A policy for `profile` running `python -c script` (or the staged source if script empty).
  Policy MakePolicy(Profile profile, const std::string& script) const;
  const std::string& runtime_dir() const { return runtime_dir_; }
  const std::string& workdir() const { return workdir_; }
  const std::string& run_dir() const { return run_dir_; }
  std::string launcher() const { return runtime_dir_ + "/bin/hero_launcher"; }

 private:
  std::string root_;
  std::string runtime_dir_;
  std::string workdir_;
  std::string run_dir_;
};

// Waits (reaping orphans: the test process is a child subreaper) until no process of `uid`
// is left, up to `timeout_ms`. Returns the survivors.
std::vector<pid_t> WaitForNoProcessesOfUid(uid_t uid, int timeout_ms);
// Runs the kill sweep (hero_launcher --kill-uid) for kRunUid with SIGKILL and waits.
void SweepRunUid(const std::string& launcher);

bool IsRoot();
// Empty if untrusted runs are possible here, else the reason (for GTEST_SKIP).
std::string UntrustedUnavailableReason();

}  // namespace hero::sandbox::testing
