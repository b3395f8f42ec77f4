// ProcessLauncher: starts a child program without running code between fork and exec in the
// (multithreaded) supervisor: posix_spawn (glibc: clone(CLONE_VM|CLONE_VFORK)) plus a pidfd.
// Behind an interface so the run state machine is tested with a fake. Loop thread only.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "supervisor/base/result.h"
#include "supervisor/base/unique_fd.h"

namespace hero::core {

struct SpawnSpec {
  std::string path;                         // executable, absolute
  std::vector<std::string> argv;            // argv[0] included
  std::vector<std::string> env;             // complete environment, "K=V"
  std::vector<std::pair<int, int>> fd_map;  // (parent fd, child fd); every other fd is CLOEXEC
};

struct SpawnedProcess {
  pid_t pid = -1;
  UniqueFd pidfd;  // readable when the process exits; reap with waitid(P_PIDFD)
};

class ProcessLauncher {
 public:
  virtual ~ProcessLauncher() = default;
  // Errors: kResourceExhausted (EAGAIN/ENOMEM/EMFILE: retry later), kNotFound, kIo.
  virtual Result<SpawnedProcess> Spawn(const SpawnSpec& spec) = 0;
};

class PosixSpawnLauncher final : public ProcessLauncher {
 public:
  Result<SpawnedProcess> Spawn(const SpawnSpec& spec) override;
};

}  // namespace hero::core
