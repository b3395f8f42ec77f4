// Host probe. The bwrap probes use posix_spawn with an empty environment and wait for their
// own pid only (never waitpid(-1)).
#include "sandbox/host_features.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <seccomp.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "sandbox/seccomp_program.h"
#include "supervisor/base/unique_fd.h"

namespace hero::sandbox {
namespace {

struct SpawnResult {
  bool spawned = false;
  int status = -1;
  std::string output;  // stdout + stderr, capped
};

SpawnResult RunCaptured(const std::vector<std::string>& argv) {
  SpawnResult r;
  auto pipe = MakePipe();
  if (!pipe.ok()) return r;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, pipe->second.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, pipe->second.get(), 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  char* envp[] = {nullptr};
  pid_t pid = -1;
  int rc = posix_spawn(&pid, args[0], &fa, nullptr, args.data(), envp);
  posix_spawn_file_actions_destroy(&fa);
  pipe->second.Reset();
  if (rc != 0) {
    r.output = std::strerror(rc);
    return r;
  }
  r.spawned = true;
  char buf[1024];
  for (;;) {
    ssize_t n = read(pipe->first.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (r.output.size() < 4096) r.output.append(buf, static_cast<size_t>(n));
  }
  while (waitpid(pid, &r.status, 0) < 0 && errno == EINTR) {
  }
  while (!r.output.empty() && (r.output.back() == '\n' || r.output.back() == ' ')) {
    r.output.pop_back();
  }
  return r;
}

bool VersionAtLeast(const std::string& v, int maj, int min, int patch) {
  int a = 0, b = 0, c = 0;
  if (std::sscanf(v.c_str(), "%d.%d.%d", &a, &b, &c) < 2) return false;
  if (a != maj) return a > maj;
  if (b != min) return b > min;
  return c >= patch;
}

std::string ReadSmallFile(const char* path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  char buf[256];
  ssize_t n = read(fd, buf, sizeof buf);
  close(fd);
  std::string s = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

bool IsSymlinkTo(const char* path, std::string_view target) {
  char buf[256];
  ssize_t n = readlink(path, buf, sizeof buf);
  return n > 0 && std::string_view(buf, static_cast<size_t>(n)) == target;
}

bool Exists(const char* path) {
  struct stat st;
  return stat(path, &st) == 0;
}

// Sysctls that switch unprivileged user namespaces off on common distributions.
std::string UsernsSysctlProblem() {
  std::string max = ReadSmallFile("/proc/sys/user/max_user_namespaces");
  if (max == "0") return "user.max_user_namespaces is 0";
  if (ReadSmallFile("/proc/sys/kernel/unprivileged_userns_clone") == "0") {
    return "kernel.unprivileged_userns_clone is 0";
  }
  if (ReadSmallFile("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1") {
    return "kernel.apparmor_restrict_unprivileged_userns is 1";
  }
  return "";
}

}  // namespace

HostFeatures ProbeHost(const std::string& bwrap_path) {
  HostFeatures f;
  f.bwrap_path = bwrap_path;
  utsname u;
  if (uname(&u) == 0) f.kernel_release = u.release;

  struct stat st;
  f.bwrap_found = !bwrap_path.empty() && stat(bwrap_path.c_str(), &st) == 0 &&
                  S_ISREG(st.st_mode) && access(bwrap_path.c_str(), X_OK) == 0;
  if (f.bwrap_found) {
    SpawnResult v = RunCaptured({bwrap_path, "--version"});
    if (v.spawned && WIFEXITED(v.status) && WEXITSTATUS(v.status) == 0) {
      size_t sp = v.output.rfind(' ');
      f.bwrap_version = sp == std::string::npos ? v.output : v.output.substr(sp + 1);
      f.bwrap_version_ok = VersionAtLeast(f.bwrap_version, 0, 8, 0);
    }
    f.userns_error = UsernsSysctlProblem();
    if (f.userns_error.empty()) {
      // The features the untrusted argv relies on, in one real sandbox start.
      SpawnResult s = RunCaptured({bwrap_path,
                                   "--unshare-user",
                                   "--unshare-pid",
                                   "--unshare-ipc",
                                   "--unshare-uts",
                                   "--unshare-net",
                                   "--disable-userns",
                                   "--assert-userns-disabled",
                                   "--ro-bind",
                                   "/",
                                   "/",
                                   "--proc",
                                   "/proc",
                                   "--size",
                                   "1048576",
                                   "--tmpfs",
                                   "/tmp",
                                   "--remount-ro",
                                   "/",
                                   "--",
                                   "/usr/bin/true"});
      f.userns_ok = s.spawned && WIFEXITED(s.status) && WEXITSTATUS(s.status) == 0;
      if (!f.userns_ok) {
        f.userns_error =
            "bwrap test sandbox failed: " + (s.output.empty() ? "no output" : s.output);
      }
    }
  } else {
    f.userns_error = "bubblewrap not available";
  }

  seccomp_notif_sizes sizes{};
  bool sizes_ok = syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) == 0;
  uint32_t action = SECCOMP_RET_USER_NOTIF;
  bool notif_action = syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0;
  f.seccomp_notify_ok = sizes_ok && notif_action;
  action = SECCOMP_RET_KILL_PROCESS;
  f.seccomp_kill_process_ok = syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0;

  const scmp_version* ver = seccomp_version();
  if (ver != nullptr) {
    f.libseccomp_version = std::to_string(ver->major) + "." + std::to_string(ver->minor) + "." +
                           std::to_string(ver->micro);
  }
  f.libseccomp_api = seccomp_api_get();
  f.libseccomp_ok =
      ver != nullptr && VersionAtLeast(f.libseccomp_version, 2, 5, 0) && f.libseccomp_api >= 6;

  auto prog = BuildSeccompProgram(SeccompPolicy{});
  f.seccomp_program_ok = prog.ok();
  if (!prog.ok()) f.seccomp_program_error = prog.status().message();

  f.no_new_privs_ok = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) >= 0;
  f.merged_usr = IsSymlinkTo("/lib", "usr/lib") && IsSymlinkTo("/bin", "usr/bin") &&
                 IsSymlinkTo("/sbin", "usr/sbin") &&
                 (!Exists("/lib64") || IsSymlinkTo("/lib64", "usr/lib64"));
  f.cgroup_v2 = Exists("/sys/fs/cgroup/cgroup.controllers") ||
                Exists("/sys/fs/cgroup/unified/cgroup.controllers");
  f.cgroup_v1_memory = Exists("/sys/fs/cgroup/memory/memory.limit_in_bytes");
  CgroupDetectOptions probe;
  probe.setup = false;
  f.cgroups = DetectCgroups(probe);
  return f;
}

Status CheckUntrustedAvailable(const HostFeatures& f) {
  auto missing = [](const std::string& what) {
    return FailedPrecondition("untrusted profile unavailable: " + what);
  };
  if (!f.bwrap_found) return missing("bubblewrap not found at " + f.bwrap_path);
  if (!f.bwrap_version_ok) {
    return missing("bubblewrap " +
                   (f.bwrap_version.empty() ? "(unknown version)" : f.bwrap_version) + " at " +
                   f.bwrap_path + " is too old (need >= 0.8.0)");
  }
  if (!f.userns_ok) return missing("unprivileged user namespaces unusable: " + f.userns_error);
  if (!f.seccomp_notify_ok) {
    return missing("kernel " + f.kernel_release + " lacks seccomp user notification (need >= 5.0)");
  }
  if (!f.seccomp_kill_process_ok) return missing("kernel lacks SECCOMP_RET_KILL_PROCESS");
  if (!f.libseccomp_ok) {
    return missing("libseccomp " + f.libseccomp_version + " API level " +
                   std::to_string(f.libseccomp_api) + " (need >= 2.5, API level >= 6)");
  }
  if (!f.seccomp_program_ok)
    return missing("seccomp filter does not build: " + f.seccomp_program_error);
  if (!f.no_new_privs_ok) return missing("prctl(PR_SET_NO_NEW_PRIVS) unsupported");
  if (!f.merged_usr)
    return missing("host is not merged-/usr (/lib, /bin, /sbin must link into usr/)");
  return Status::Ok();
}

std::string DescribeHost(const HostFeatures& f) {
  auto yn = [](bool b) { return b ? "yes" : "no"; };
  std::string s;
  s += "kernel: " + f.kernel_release + "\n";
  s += "bubblewrap: " + f.bwrap_path + " " + (f.bwrap_found ? "found" : "missing") +
       (f.bwrap_version.empty() ? "" : " version " + f.bwrap_version) +
       (f.bwrap_version_ok ? "" : " (need >= 0.8.0)") + "\n";
  s += std::string("user namespaces: ") + yn(f.userns_ok) +
       (f.userns_error.empty() ? "" : " (" + f.userns_error + ")") + "\n";
  s += std::string("seccomp user notification: ") + yn(f.seccomp_notify_ok) + "\n";
  s += std::string("seccomp kill_process: ") + yn(f.seccomp_kill_process_ok) + "\n";
  s += "libseccomp: " + f.libseccomp_version + " API level " + std::to_string(f.libseccomp_api) +
       (f.libseccomp_ok ? "" : " (need >= 2.5, API >= 6)") + "\n";
  s += std::string("seccomp filter builds: ") + yn(f.seccomp_program_ok) +
       (f.seccomp_program_error.empty() ? "" : " (" + f.seccomp_program_error + ")") + "\n";
  s += std::string("no_new_privs: ") + yn(f.no_new_privs_ok) + "\n";
  s += std::string("merged /usr: ") + yn(f.merged_usr) + "\n";
  s += std::string("cgroup v2: ") + yn(f.cgroup_v2) +
       ", cgroup v1 memory: " + yn(f.cgroup_v1_memory) + "\n";
  s += DescribeCgroups(f.cgroups) + "\n";
  for (const auto& note : f.cgroups.notes) s += "cgroups note: " + note + "\n";
  Status st = CheckUntrustedAvailable(f);
  s += "untrusted profile: " + (st.ok() ? std::string("available") : st.message()) + "\n";
  return s;
}

}  // namespace hero::sandbox
