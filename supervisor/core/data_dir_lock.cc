// DataDirLock implementation. flock locks belong to the open file description, so the fd
// must stay CLOEXEC (children must not inherit, and so extend, our lock).
#include "supervisor/core/data_dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>

namespace hero::core {

Result<DataDirLock> DataDirLock::Acquire(const std::string& data_dir, bool* alone) {
  std::string path = data_dir + "/hero_logic.lock";
  HERO_ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(path.c_str(), O_RDWR | O_CREAT, 0600));
  *alone = ::flock(fd.get(), LOCK_EX | LOCK_NB) == 0;
  // Downgrade (or take) the shared lock; flock conversion is not atomic, which only means a
  // process starting in between may also believe it is alone: recovery is idempotent.
  if (::flock(fd.get(), LOCK_SH) != 0) return Status::FromErrno(errno, "flock " + path);
  return DataDirLock(std::move(fd));
}

}  // namespace hero::core
