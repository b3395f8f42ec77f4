// /proc scanning for the orphan reaper (processes of a uid: sandbox/run_killer.h). Reads procfs (in-memory, fast);
// loop thread. No dependency beyond libc.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace hero::core {

// Pids of zombie children of this process.
std::vector<pid_t> ListZombieChildren();
// The process's comm name ("" if gone).
std::string ProcessName(pid_t pid);

}  // namespace hero::core
