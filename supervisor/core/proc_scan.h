// /proc scanning for the orphan reaper (processes of a uid: sandbox/run_killer.h). Reads procfs
// (in-memory, fast); loop thread. No dependency beyond libc.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

namespace hero::core {

// Every process with its real uid.
std::vector<std::pair<pid_t, uid_t>> ListProcessUids();
// Pids of zombie children of this process.
std::vector<pid_t> ListZombieChildren();
// The process's comm name ("" if gone).
std::string ProcessName(pid_t pid);

}  // namespace hero::core
