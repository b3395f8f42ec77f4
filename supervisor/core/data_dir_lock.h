// DataDirLock: every supervisor process working on a data directory (the daemon, each
// `hero_logic run`) holds a shared flock on $DATA/hero_logic.lock for its lifetime. Only a
// process that can briefly take the lock exclusively — no other supervisor is alive — may
// mark left-over `running` runs as interrupted. Blocking flock calls are non-blocking here.
#pragma once

#include <string>

#include "supervisor/base/result.h"
#include "supervisor/base/unique_fd.h"

namespace hero::core {

class DataDirLock {
 public:
  // Opens (creating) the lock file and takes the shared lock. `*alone` is set to true when
  // no other supervisor held it at that moment (the exclusive try succeeded).
  static Result<DataDirLock> Acquire(const std::string& data_dir, bool* alone);

 private:
  explicit DataDirLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace hero::core
