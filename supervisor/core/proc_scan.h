// /proc scanning for the kill sweep and the orphan reaper. Reads procfs (in-memory, fast);
// loop thread. No dependency beyond libc.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace hero::core {

// Pids whose real uid is `uid`.
std::vector<pid_t> ListProcesses(uid_t uid);
// Pids of zombie children of this process.
std::vector<pid_t> ListZombieChildren();
// The process's comm name ("" if gone).
std::string ProcessName(pid_t pid);

}  // namespace hero::core
