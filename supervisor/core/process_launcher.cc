// posix_spawn-based launcher. Signal dispositions and the mask are reset in the child so
// nothing the supervisor's loop installed (e.g. SIGPIPE ignored) leaks into the run.
#include "supervisor/core/process_launcher.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

namespace hero::core {
namespace {

class SpawnAttr {
 public:
  SpawnAttr() { ok_ = posix_spawnattr_init(&attr_) == 0; }
  ~SpawnAttr() {
    if (ok_) posix_spawnattr_destroy(&attr_);
  }
  posix_spawnattr_t* get() { return &attr_; }
  bool ok() const { return ok_; }

 private:
  posix_spawnattr_t attr_;
  bool ok_ = false;
};

class FileActions {
 public:
  FileActions() { ok_ = posix_spawn_file_actions_init(&fa_) == 0; }
  ~FileActions() {
    if (ok_) posix_spawn_file_actions_destroy(&fa_);
  }
  posix_spawn_file_actions_t* get() { return &fa_; }
  bool ok() const { return ok_; }

 private:
  posix_spawn_file_actions_t fa_;
  bool ok_ = false;
};

}  // namespace

Result<SpawnedProcess> PosixSpawnLauncher::Spawn(const SpawnSpec& spec) {
  SpawnAttr attr;
  FileActions fa;
  if (!attr.ok() || !fa.ok()) return ResourceExhausted("posix_spawn: cannot allocate attributes");
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(attr.get(), &all);
  posix_spawnattr_setsigmask(attr.get(), &none);
  posix_spawnattr_setflags(attr.get(), POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  // File actions run in order, so a low source fd could be clobbered by an earlier dup2
  // onto it. Move every source above the highest target first (CLOEXEC copies, closed on
  // return), so each dup2 reads an untouched fd.
  std::vector<UniqueFd> lifted;
  for (const auto& [from, to] : spec.fd_map) {
    int high = fcntl(from, F_DUPFD_CLOEXEC, 16);
    if (high < 0) return Status::FromErrno(errno, "fcntl(F_DUPFD_CLOEXEC)");
    lifted.emplace_back(high);
    posix_spawn_file_actions_adddup2(fa.get(), high, to);
  }

  std::vector<char*> argv, envp;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  pid_t pid = -1;
  int rc = posix_spawn(&pid, spec.path.c_str(), fa.get(), attr.get(), argv.data(), envp.data());
  if (rc != 0) return Status::FromErrno(rc, "posix_spawn " + spec.path);

  // Debian 12's <sys/pidfd.h> lacks extern "C" for C++; use the raw syscall.
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    int err = errno;
    // Without a pidfd we cannot watch the child on the loop: kill and reap it now.
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return Status::FromErrno(err, "pidfd_open");
  }
  fcntl(pidfd, F_SETFD, FD_CLOEXEC);
  return SpawnedProcess{pid, UniqueFd(pidfd)};
}

}  // namespace hero::core
