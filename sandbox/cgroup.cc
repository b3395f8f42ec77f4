// Per-run cgroups over cgroup v1 or v2. All I/O goes through CgroupFs so the v2 logic can be
// tested against a fake; the real one does small synchronous reads/writes on cgroupfs.
#include "sandbox/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <set>
#include <thread>
#include <utility>

#include "supervisor/base/log.h"
#include "supervisor/base/unique_fd.h"

namespace hero::sandbox {
namespace {

constexpr const char* kParentPrefix = "hero_logic-";
constexpr const char* kSelfLeafSuffix = ".self";
constexpr size_t kMaxRead = 4u << 20;

std::string Join(const std::string& dir, std::string_view name) {
  std::string out = dir;
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  if (out != "/") out += '/';
  out += name;
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(sep, start);
    if (end == std::string_view::npos) end = s.size();
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::optional<uint64_t> ParseU64(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t next = v * 10 + static_cast<uint64_t>(c - '0');
    if (next / 10 != v) return std::nullopt;
    v = next;
  }
  return v;
}

std::vector<pid_t> ParsePids(std::string_view text) {
  std::vector<pid_t> out;
  for (auto line : Split(text, '\n')) {
    auto v = ParseU64(Trim(line));
    if (v && *v > 0 && *v < (1u << 30)) out.push_back(static_cast<pid_t>(*v));
  }
  return out;
}

std::string DecodeOctal(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '7' && s[i + 2] >= '0' &&
        s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > 64 || name == "." || name == "..") return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool HasOption(std::string_view options, std::string_view opt) {
  for (auto o : Split(options, ',')) {
    if (o == opt) return true;
  }
  return false;
}

// The directory of `cg_path` (from /proc/self/cgroup) in a hierarchy mounted at `m`.
std::string ResolveDir(const MountInfoEntry& m, const std::string& cg_path) {
  if (cg_path.find("/..") != std::string::npos) return m.mount_point;  // outside our namespace
  if (m.root == "/") return cg_path == "/" ? m.mount_point : Join(m.mount_point, cg_path.substr(1));
  if (cg_path == m.root) return m.mount_point;
  if (cg_path.rfind(m.root + "/", 0) == 0) {
    return Join(m.mount_point, cg_path.substr(m.root.size() + 1));
  }
  return m.mount_point;
}

const MountInfoEntry* FindMount(const std::vector<MountInfoEntry>& mounts, std::string_view fstype,
                                std::string_view controller) {
  const MountInfoEntry* found = nullptr;
  for (const auto& m : mounts) {
    if (m.fstype != fstype) continue;
    if (!controller.empty() && !HasOption(m.super_options, controller)) continue;
    if (fstype == "cgroup2" && m.mount_point == "/sys/fs/cgroup") return &m;
    if (found == nullptr) found = &m;
  }
  return found;
}

const ProcCgroupEntry* FindCgroup(const std::vector<ProcCgroupEntry>& entries,
                                  std::string_view controller) {
  for (const auto& e : entries) {
    if (controller.empty()) {
      if (e.hierarchy_id == 0 && e.controllers.empty()) return &e;
      continue;
    }
    if (std::find(e.controllers.begin(), e.controllers.end(), controller) != e.controllers.end()) {
      return &e;
    }
  }
  return nullptr;
}

// Parents ("hero_logic-<pid>", v2 leaves "hero_logic-<pid>.self") of supervisors that are gone.
void RemoveStaleParents(CgroupFs& fs, const std::string& base, pid_t self) {
  for (const auto& name : fs.ListDirs(base)) {
    if (name.rfind(kParentPrefix, 0) != 0) continue;
    std::string_view rest = std::string_view(name).substr(strlen(kParentPrefix));
    if (rest.size() > 5 && rest.substr(rest.size() - 5) == kSelfLeafSuffix) {
      rest.remove_suffix(5);
    }
    auto pid = ParseU64(rest);
    if (!pid || static_cast<pid_t>(*pid) == self || fs.ProcessAlive(static_cast<pid_t>(*pid))) {
      continue;
    }
    std::string dir = Join(base, name);
    for (const auto& child : fs.ListDirs(dir)) (void)fs.RemoveDir(Join(dir, child));
    Status s = fs.RemoveDir(dir);
    if (s.ok()) HERO_LOG(kInfo) << "removed stale cgroup " << dir;
  }
}

Status EnsureDir(CgroupFs& fs, const std::string& dir, bool* created) {
  Status s = fs.MakeDir(dir);
  if (created) *created = s.ok();
  if (s.ok() || s.code() == StatusCode::kAlreadyExists) return Status::Ok();
  return s.WithContext("create cgroup");
}

struct Probe {
  std::vector<MountInfoEntry> mounts;
  std::vector<ProcCgroupEntry> cgroups;
  std::string name;
  pid_t self = 0;
  bool setup = true;
  CgroupFs* fs = nullptr;
};

// v2: Ok and fills host, or the reason it is unusable.
std::string TryV2(const Probe& p, CgroupHost& host) {
  const MountInfoEntry* m = FindMount(p.mounts, "cgroup2", "");
  const ProcCgroupEntry* own = FindCgroup(p.cgroups, "");
  if (m == nullptr) return "no cgroup2 mount";
  if (own == nullptr)
    return "cgroup2 mounted at " + m->mount_point + " but no 0:: line in /proc/self/cgroup";
  CgroupFs& fs = *p.fs;
  const std::string dir = ResolveDir(*m, own->path);
  auto controllers = fs.ReadFile(Join(dir, "cgroup.controllers"));
  if (!controllers.ok()) return "cgroup v2 " + dir + ": " + controllers.status().message();
  if (!HasWord(*controllers, "memory") || !HasWord(*controllers, "pids")) {
    return "cgroup v2 at " + m->mount_point + ": memory/pids controllers not available in " + dir +
           " (held by cgroup v1?)";
  }
  if (!fs.Writable(dir)) return "cgroup v2 " + dir + " is not writable";
  const bool is_root = own->path == "/" || dir == m->mount_point;
  auto subtree = fs.ReadFile(Join(dir, "cgroup.subtree_control"));
  if (!subtree.ok()) return "cgroup v2 " + dir + ": " + subtree.status().message();
  const bool enabled = HasWord(*subtree, "memory") && HasWord(*subtree, "pids");
  const std::string parent = Join(dir, p.name);
  if (!enabled && !is_root) {
    // No internal processes: our cgroup may only hand controllers to children once no process
    // lives in it. We can move ourselves into a leaf; anyone else there blocks it.
    auto procs = fs.ReadFile(Join(dir, "cgroup.procs"));
    if (!procs.ok()) return "cgroup v2 " + dir + ": " + procs.status().message();
    size_t others = 0;
    for (pid_t pid : ParsePids(*procs)) others += pid != p.self;
    if (others > 0) {
      return "cgroup v2 " + dir + " holds " + std::to_string(others) +
             " other process(es); run hero_logic in its own cgroup (systemd: Delegate=yes)";
    }
    const std::string leaf = Join(dir, p.name + kSelfLeafSuffix);
    if (p.setup) {
      Status s = EnsureDir(fs, leaf, nullptr);
      if (s.ok()) s = fs.WriteFile(Join(leaf, "cgroup.procs"), std::to_string(p.self));
      if (!s.ok()) return "cgroup v2: cannot move the supervisor into " + leaf + ": " + s.message();
    }
    host.notes.push_back(
        (p.setup ? "moved the supervisor into " : "setup would move the supervisor into ") + leaf);
  }
  if (p.setup) {
    if (!enabled) {
      Status s = fs.WriteFile(Join(dir, "cgroup.subtree_control"), "+memory +pids");
      if (!s.ok()) return "cgroup v2: cannot enable memory and pids in " + dir + ": " + s.message();
    }
    RemoveStaleParents(fs, dir, p.self);
    Status s = EnsureDir(fs, parent, nullptr);
    if (s.ok()) s = fs.WriteFile(Join(parent, "cgroup.subtree_control"), "+memory +pids");
    if (!s.ok()) return "cgroup v2: cannot prepare " + parent + ": " + s.message();
  }
  host.kind = CgroupHost::kV2;
  host.unified_root = parent;
  return "";
}

std::string TryV1(const Probe& p, CgroupHost& host) {
  CgroupFs& fs = *p.fs;
  std::string dirs[3];
  const char* const kControllers[3] = {"memory", "pids", "cpuacct"};
  for (int i = 0; i < 3; ++i) {
    const MountInfoEntry* m = FindMount(p.mounts, "cgroup", kControllers[i]);
    const ProcCgroupEntry* own = FindCgroup(p.cgroups, kControllers[i]);
    if (m == nullptr || own == nullptr) {
      if (i < 2) return std::string("no cgroup v1 ") + kControllers[i] + " hierarchy";
      continue;
    }
    std::string dir = ResolveDir(*m, own->path);
    if (!fs.Writable(dir)) {
      if (i < 2) return "cgroup v1 " + dir + " is not writable";
      continue;
    }
    dirs[i] = dir;
  }
  std::string roots[3];
  for (int i = 0; i < 3; ++i) {
    if (dirs[i].empty()) continue;
    roots[i] = Join(dirs[i], p.name);
    if (!p.setup) continue;
    RemoveStaleParents(fs, dirs[i], p.self);
    Status s = EnsureDir(fs, roots[i], nullptr);
    if (!s.ok()) {
      if (i < 2) return "cgroup v1: cannot create " + roots[i] + ": " + s.message();
      roots[i].clear();
    }
  }
  host.kind = CgroupHost::kV1;
  host.memory_root = roots[0];
  host.pids_root = roots[1];
  host.cpu_root = roots[2];
  if (host.cpu_root.empty())
    host.notes.push_back("cgroup v1 cpuacct unavailable: no CPU accounting");
  return "";
}

class RealFs final : public CgroupFs {
 public:
  Result<std::string> ReadFile(const std::string& path) override {
    UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return Status::FromErrno(errno, "open " + path);
    std::string out;
    char buf[4096];
    for (;;) {
      ssize_t n = read(fd.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status::FromErrno(errno, "read " + path);
      if (n == 0) break;
      out.append(buf, static_cast<size_t>(n));
      if (out.size() > kMaxRead) return ResourceExhausted(path + " is too large");
    }
    return out;
  }

  Status WriteFile(const std::string& path, std::string_view data) override {
    UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) return Status::FromErrno(errno, "open " + path);
    ssize_t n;
    do {
      n = write(fd.get(), data.data(), data.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0)
      return Status::FromErrno(errno, "write '" + std::string(Trim(data)) + "' to " + path);
    if (static_cast<size_t>(n) != data.size()) return IoError("short write to " + path);
    return Status::Ok();
  }

  bool Exists(const std::string& path) override { return access(path.c_str(), F_OK) == 0; }
  bool Writable(const std::string& dir) override { return access(dir.c_str(), W_OK) == 0; }

  Status MakeDir(const std::string& path) override {
    if (mkdir(path.c_str(), 0755) == 0) return Status::Ok();
    return Status::FromErrno(errno, "mkdir " + path);
  }

  Status RemoveDir(const std::string& path) override {
    if (rmdir(path.c_str()) == 0) return Status::Ok();
    return Status::FromErrno(errno, "rmdir " + path);
  }

  std::vector<std::string> ListDirs(const std::string& path) override {
    std::vector<std::string> out;
    DIR* d = opendir(path.c_str());
    if (d == nullptr) return out;
    while (dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      if (e->d_type == DT_DIR) out.push_back(std::move(name));
    }
    closedir(d);
    return out;
  }

  Result<size_t> KillListed(const std::string& procs_path) override {
    HERO_ASSIGN_OR_RETURN(std::string first, ReadFile(procs_path));
    std::vector<pid_t> pids = ParsePids(first);
    if (pids.empty()) return size_t{0};
    // Pin each listed pid with a pidfd, then keep only those still listed: a pid that was
    // reused by an unrelated process between the read and the open is not in the second list
    // (and a pidfd of a process that exits later cannot reach a reused pid).
    std::vector<std::pair<pid_t, UniqueFd>> pinned;
    bool no_pidfd = false;
    for (pid_t pid : pids) {
      int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
      if (fd < 0 && errno == ENOSYS) {
        no_pidfd = true;
        break;
      }
      if (fd >= 0) pinned.emplace_back(pid, UniqueFd(fd));
    }
    size_t killed = 0;
    if (no_pidfd) {  // kernel < 5.3: the small pid-reuse window remains
      for (pid_t pid : pids) killed += kill(pid, SIGKILL) == 0;
      return killed;
    }
    HERO_ASSIGN_OR_RETURN(std::string second, ReadFile(procs_path));
    std::vector<pid_t> still = ParsePids(second);
    std::sort(still.begin(), still.end());
    for (auto& [pid, fd] : pinned) {
      if (!std::binary_search(still.begin(), still.end(), pid)) continue;
      if (syscall(SYS_pidfd_send_signal, fd.get(), SIGKILL, nullptr, 0) == 0) ++killed;
    }
    return killed;
  }

  bool ProcessAlive(pid_t pid) override { return kill(pid, 0) == 0 || errno == EPERM; }
  void Sleep(std::chrono::milliseconds d) override { std::this_thread::sleep_for(d); }
};

}  // namespace

CgroupFs& RealCgroupFs() {
  static RealFs* fs = new RealFs();  // never destroyed: usable from any destructor
  return *fs;
}

std::string_view CgroupKindName(CgroupHost::Kind kind) {
  switch (kind) {
    case CgroupHost::kNone:
      return "none";
    case CgroupHost::kV1:
      return "v1";
    case CgroupHost::kV2:
      return "v2";
  }
  return "unknown";
}

std::vector<MountInfoEntry> ParseMountInfo(std::string_view text) {
  std::vector<MountInfoEntry> out;
  for (auto line : Split(text, '\n')) {
    size_t dash = line.find(" - ");
    if (dash == std::string_view::npos) continue;
    auto head = Split(line.substr(0, dash), ' ');
    auto tail = Split(line.substr(dash + 3), ' ');
    if (head.size() < 6 || tail.size() < 3) continue;
    MountInfoEntry e;
    e.root = DecodeOctal(head[3]);
    e.mount_point = DecodeOctal(head[4]);
    e.fstype = std::string(tail[0]);
    e.super_options = std::string(tail[2]);
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<ProcCgroupEntry> ParseProcCgroup(std::string_view text) {
  std::vector<ProcCgroupEntry> out;
  for (auto line : Split(text, '\n')) {
    size_t c1 = line.find(':');
    size_t c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
    if (c2 == std::string_view::npos) continue;
    auto id = ParseU64(line.substr(0, c1));
    if (!id) continue;
    ProcCgroupEntry e;
    e.hierarchy_id = static_cast<int>(*id);
    for (auto c : Split(line.substr(c1 + 1, c2 - c1 - 1), ',')) {
      // "name=systemd" is a named hierarchy without controllers: keep it as written.
      e.controllers.emplace_back(c);
    }
    e.path = std::string(Trim(line.substr(c2 + 1)));
    if (e.path.empty()) continue;
    out.push_back(std::move(e));
  }
  return out;
}

std::optional<uint64_t> FlatKeyedValue(std::string_view text, std::string_view key) {
  for (auto line : Split(text, '\n')) {
    line = Trim(line);
    if (line.size() > key.size() && line.substr(0, key.size()) == key &&
        (line[key.size()] == ' ' || line[key.size()] == '\t')) {
      return ParseU64(Trim(line.substr(key.size())));
    }
  }
  return std::nullopt;
}

std::optional<uint64_t> SingleValue(std::string_view text) { return ParseU64(Trim(text)); }

bool HasWord(std::string_view text, std::string_view word) {
  for (auto line : Split(text, '\n')) {
    for (auto w : Split(line, ' ')) {
      if (Trim(w) == word) return true;
    }
  }
  return false;
}

CgroupHost DetectCgroups(const CgroupDetectOptions& options) {
  CgroupHost host;
  Probe p;
  p.fs = options.fs ? options.fs : &RealCgroupFs();
  p.self = getpid();
  p.setup = options.setup;
  p.name =
      options.parent_name.empty() ? kParentPrefix + std::to_string(p.self) : options.parent_name;
  if (!ValidName(p.name)) {
    host.why_none = "bad cgroup parent name '" + p.name + "'";
    return host;
  }
  auto mountinfo = p.fs->ReadFile(options.mountinfo_path);
  auto own = p.fs->ReadFile(options.proc_cgroup_path);
  if (!mountinfo.ok() || !own.ok()) {
    host.why_none = "cannot read " + (mountinfo.ok() ? own.status() : mountinfo.status()).message();
    return host;
  }
  p.mounts = ParseMountInfo(*mountinfo);
  p.cgroups = ParseProcCgroup(*own);
  std::string why_v2 = TryV2(p, host);
  if (host.kind == CgroupHost::kV2) return host;
  std::string why_v1 = TryV1(p, host);
  if (host.kind == CgroupHost::kV1) return host;
  host.notes.clear();
  host.why_none = why_v2 + "; " + why_v1;
  return host;
}

std::string DescribeCgroups(const CgroupHost& host) {
  switch (host.kind) {
    case CgroupHost::kV1:
      return std::string("cgroups: v1 (memory, pids") + (host.cpu_root.empty() ? "" : ", cpuacct") +
             ") — per-run memory and pids limits";
    case CgroupHost::kV2:
      return "cgroups: v2 (memory, pids; " + host.unified_root +
             ") — per-run memory and pids limits";
    case CgroupHost::kNone:
      break;
  }
  return "cgroups: none writable — limits by rlimits only" +
         (host.why_none.empty() ? std::string() : " (" + host.why_none + ")");
}

Status RemoveCgroupParents(const CgroupHost& host, CgroupFs* fs) {
  CgroupFs& f = fs ? *fs : RealCgroupFs();
  Status first;
  for (const std::string* root :
       {&host.memory_root, &host.pids_root, &host.cpu_root, &host.unified_root}) {
    if (root->empty()) continue;
    Status s = f.RemoveDir(*root);
    if (s.ok() || s.code() == StatusCode::kNotFound) continue;
    HERO_LOG(kWarn) << "cgroup parent left behind: " << s.message();
    if (first.ok()) first = s;
  }
  return first;
}

Result<RunCgroup> RunCgroup::Create(const CgroupHost& host, std::string_view name,
                                    const CgroupLimits& limits, CgroupFs* fs) {
  if (host.kind == CgroupHost::kNone) {
    return FailedPrecondition("no usable cgroups: " + host.why_none);
  }
  if (!ValidName(name)) return InvalidArgument("bad cgroup name '" + std::string(name) + "'");
  CgroupFs& f = fs ? *fs : RealCgroupFs();
  RunCgroup cg(host.kind, &f);  // removes whatever it created if we return early
  std::string controllers;      // v2: what the limits need enabled in the parent
  if (limits.memory_bytes > 0) controllers += "+memory";
  if (limits.pids_max > 0) controllers += controllers.empty() ? "+pids" : " +pids";
  auto make = [&](const std::string& parent, std::string* out) -> Status {
    if (parent.empty()) return InvalidArgument("cgroup host has an empty root");
    bool created = false;
    HERO_RETURN_IF_ERROR(EnsureDir(f, parent, &created));
    if (created && host.kind == CgroupHost::kV2 && !controllers.empty()) {
      // Re-created after RemoveCgroupParents: hand the limited controllers down again.
      HERO_RETURN_IF_ERROR(f.WriteFile(Join(parent, "cgroup.subtree_control"), controllers));
    }
    std::string dir = Join(parent, name);
    Status s = f.MakeDir(dir);
    if (s.code() == StatusCode::kAlreadyExists) {
      // A leftover of a crashed supervisor, or a name reused: reuse only if it is empty.
      Status r = f.RemoveDir(dir);
      if (!r.ok() && r.code() != StatusCode::kNotFound) {
        return Status(StatusCode::kAlreadyExists,
                      "cgroup " + dir + " exists and is busy: " + r.message());
      }
      s = f.MakeDir(dir);
    }
    if (!s.ok()) return s.WithContext("create run cgroup");
    cg.dirs_.push_back(dir);
    *out = dir;
    return Status::Ok();
  };
  auto write = [&](const std::string& dir, const char* file, const std::string& value) {
    return f.WriteFile(Join(dir, file), value).WithContext("cgroup limit");
  };
  if (host.kind == CgroupHost::kV2) {
    HERO_RETURN_IF_ERROR(make(host.unified_root, &cg.unified_dir_));
    const std::string& d = cg.unified_dir_;
    if (limits.memory_bytes > 0) {
      HERO_RETURN_IF_ERROR(write(d, "memory.max", std::to_string(limits.memory_bytes)));
      if (f.Exists(Join(d, "memory.swap.max")))
        HERO_RETURN_IF_ERROR(write(d, "memory.swap.max", "0"));
    }
    if (limits.pids_max > 0)
      HERO_RETURN_IF_ERROR(write(d, "pids.max", std::to_string(limits.pids_max)));
  } else {
    HERO_RETURN_IF_ERROR(make(host.memory_root, &cg.memory_dir_));
    HERO_RETURN_IF_ERROR(make(host.pids_root, &cg.pids_dir_));
    if (!host.cpu_root.empty()) HERO_RETURN_IF_ERROR(make(host.cpu_root, &cg.cpu_dir_));
    if (limits.memory_bytes > 0) {
      const std::string v = std::to_string(limits.memory_bytes);
      HERO_RETURN_IF_ERROR(write(cg.memory_dir_, "memory.limit_in_bytes", v));
      // memsw (memory + swap) must be >= the memory limit: set after it, equal = no swap.
      if (f.Exists(Join(cg.memory_dir_, "memory.memsw.limit_in_bytes"))) {
        HERO_RETURN_IF_ERROR(write(cg.memory_dir_, "memory.memsw.limit_in_bytes", v));
      }
    }
    if (limits.pids_max > 0) {
      HERO_RETURN_IF_ERROR(write(cg.pids_dir_, "pids.max", std::to_string(limits.pids_max)));
    }
  }
  return Result<RunCgroup>(std::move(cg));
}

RunCgroup::RunCgroup(RunCgroup&& o) noexcept
    : kind_(std::exchange(o.kind_, CgroupHost::kNone)),
      fs_(o.fs_),
      dirs_(std::move(o.dirs_)),
      memory_dir_(std::move(o.memory_dir_)),
      pids_dir_(std::move(o.pids_dir_)),
      cpu_dir_(std::move(o.cpu_dir_)),
      unified_dir_(std::move(o.unified_dir_)),
      sampled_peak_(o.sampled_peak_) {
  o.dirs_.clear();
}

RunCgroup& RunCgroup::operator=(RunCgroup&& o) noexcept {
  if (this != &o) {
    (void)Remove();
    kind_ = std::exchange(o.kind_, CgroupHost::kNone);
    fs_ = o.fs_;
    dirs_ = std::move(o.dirs_);
    o.dirs_.clear();
    memory_dir_ = std::move(o.memory_dir_);
    pids_dir_ = std::move(o.pids_dir_);
    cpu_dir_ = std::move(o.cpu_dir_);
    unified_dir_ = std::move(o.unified_dir_);
    sampled_peak_ = o.sampled_peak_;
  }
  return *this;
}

RunCgroup::~RunCgroup() { (void)Remove(); }

Status RunCgroup::Remove() {
  Status result;
  int retries = 5;  // ~50 ms in all: exits in flight leave the group within microseconds
  for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
    for (;;) {
      Status s = fs_->RemoveDir(*it);
      if (s.ok() || s.code() == StatusCode::kNotFound) break;
      if (s.code() == StatusCode::kUnavailable && retries-- > 0) {
        fs_->Sleep(std::chrono::milliseconds(10));
        continue;
      }
      HERO_LOG(kWarn) << "cgroup left behind (still has processes?): " << s.message();
      if (result.ok()) result = s;
      break;
    }
  }
  dirs_.clear();
  return result;
}

std::vector<std::string> RunCgroup::procs_files() const {
  std::vector<std::string> out;
  for (const auto& d : dirs_) out.push_back(Join(d, "cgroup.procs"));
  return out;
}

std::vector<pid_t> RunCgroup::Pids() const {
  std::set<pid_t> all;
  for (const auto& path : procs_files()) {
    auto text = fs_->ReadFile(path);
    if (!text.ok()) continue;
    for (pid_t pid : ParsePids(*text)) all.insert(pid);
  }
  return {all.begin(), all.end()};
}

Status RunCgroup::KillAll(std::chrono::milliseconds max_wait) {
  if (dirs_.empty()) return FailedPrecondition("cgroup already removed");
  constexpr auto kTick = std::chrono::milliseconds(10);
  const int rounds = static_cast<int>(std::max<int64_t>(0, max_wait / kTick));
  auto wait_empty = [&]() -> bool {
    for (int i = 0; i < rounds; ++i) {
      if (Pids().empty()) return true;
      fs_->Sleep(kTick);
    }
    return Pids().empty();
  };
  auto left = [&]() {
    const std::string what = "cgroup " + dirs_.front() + " still has " +
                             std::to_string(Pids().size()) + " process(es) after SIGKILL";
    return rounds == 0 ? Unavailable(what + " (exiting)")
                       : Status(StatusCode::kDeadlineExceeded, what);
  };
  if (kind_ == CgroupHost::kV2) {
    const std::string kill_file = Join(unified_dir_, "cgroup.kill");
    if (fs_->Exists(kill_file)) {  // kernel >= 5.14: atomic against fork, whole subtree
      HERO_RETURN_IF_ERROR(fs_->WriteFile(kill_file, "1"));
      return wait_empty() ? Status::Ok() : left();
    }
    // Frozen tasks cannot fork: kill the frozen set, then thaw so the kills complete.
    const std::string freeze = Join(unified_dir_, "cgroup.freeze");
    const bool can_freeze = fs_->Exists(freeze) && fs_->WriteFile(freeze, "1").ok();
    if (can_freeze) {
      for (int i = 0; i < 10; ++i) {
        auto ev = fs_->ReadFile(Join(unified_dir_, "cgroup.events"));
        if (ev.ok() && FlatKeyedValue(*ev, "frozen") == 1) break;
        fs_->Sleep(std::chrono::milliseconds(1));
      }
    }
    auto killed = fs_->KillListed(Join(unified_dir_, "cgroup.procs"));
    if (can_freeze) (void)fs_->WriteFile(freeze, "0");
    if (!killed.ok()) return killed.status();
  }
  // v1 (and the v2 fallback): repeat until no member is left; pids.max bounds a fork race.
  for (int i = 0; i <= rounds; ++i) {
    for (const auto& path : procs_files()) {
      auto killed = fs_->KillListed(path);
      if (!killed.ok() && killed.status().code() != StatusCode::kNotFound) return killed.status();
    }
    if (Pids().empty()) return Status::Ok();
    if (i < rounds) fs_->Sleep(kTick);
  }
  return left();
}

void RunCgroup::SampleMemory() {
  if (kind_ != CgroupHost::kV2 || dirs_.empty()) return;
  auto cur = fs_->ReadFile(Join(unified_dir_, "memory.current"));
  if (!cur.ok()) return;
  if (auto v = SingleValue(*cur)) sampled_peak_ = std::max(sampled_peak_, *v);
}

Result<CgroupStats> RunCgroup::ReadStats() {
  if (dirs_.empty()) return FailedPrecondition("cgroup already removed");
  CgroupStats st;
  bool any = false;
  auto read = [&](const std::string& dir, const char* file) -> std::optional<std::string> {
    if (dir.empty()) return std::nullopt;
    auto text = fs_->ReadFile(Join(dir, file));
    if (!text.ok()) return std::nullopt;
    any = true;
    return std::move(text).value();
  };
  auto single = [&](const std::string& dir, const char* file) -> std::optional<uint64_t> {
    auto t = read(dir, file);
    return t ? SingleValue(*t) : std::nullopt;
  };
  auto keyed = [&](const std::string& dir, const char* file,
                   const char* key) -> std::optional<uint64_t> {
    auto t = read(dir, file);
    return t ? FlatKeyedValue(*t, key) : std::nullopt;
  };
  auto usec = [](std::optional<uint64_t> ns) -> std::optional<uint64_t> {
    return ns ? std::optional<uint64_t>(*ns / 1000) : std::nullopt;
  };
  if (kind_ == CgroupHost::kV2) {
    const std::string& d = unified_dir_;
    SampleMemory();
    st.memory_current_bytes = single(d, "memory.current");
    st.memory_peak_bytes = single(d, "memory.peak");
    if (!st.memory_peak_bytes && sampled_peak_ > 0) st.memory_peak_bytes = sampled_peak_;
    if (auto ev = read(d, "memory.events")) {
      st.oom_kills = FlatKeyedValue(*ev, "oom_kill");
      st.memory_limit_hits = FlatKeyedValue(*ev, "max");
    }
    st.pids_peak = single(d, "pids.peak");
    st.pids_limit_hits = keyed(d, "pids.events", "max");
    if (auto cpu = read(d, "cpu.stat")) {
      st.cpu_usage_usec = FlatKeyedValue(*cpu, "usage_usec");
      st.cpu_user_usec = FlatKeyedValue(*cpu, "user_usec");
      st.cpu_system_usec = FlatKeyedValue(*cpu, "system_usec");
    }
  } else {
    st.memory_current_bytes = single(memory_dir_, "memory.usage_in_bytes");
    st.memory_peak_bytes = single(memory_dir_, "memory.max_usage_in_bytes");
    st.oom_kills = keyed(memory_dir_, "memory.oom_control", "oom_kill");
    st.memory_limit_hits = single(memory_dir_, "memory.failcnt");
    st.pids_peak = single(pids_dir_, "pids.peak");
    st.pids_limit_hits = keyed(pids_dir_, "pids.events", "max");
    st.cpu_usage_usec = usec(single(cpu_dir_, "cpuacct.usage"));
    st.cpu_user_usec = usec(single(cpu_dir_, "cpuacct.usage_user"));
    st.cpu_system_usec = usec(single(cpu_dir_, "cpuacct.usage_sys"));
  }
  if (!any) return IoError("cannot read any statistics of cgroup " + dirs_.front());
  return st;
}

}  // namespace hero::sandbox
