// Ending everything a run started. With a per-run uid the complete sweep is a helper process
// running as that uid calling kill(-1, sig): it reaches every process of the uid (double-forked
// setsid daemons, the bwrap pid namespace) and never the supervisor. Any thread.
// Depends on base only.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "supervisor/base/status.h"

namespace hero::sandbox {

// argv for `hero_launcher --kill-uid=UID --signal=N`: posix_spawn it (no file actions needed
// beyond stdio) and wait for it. It switches to UID (refusing 0 and the caller's own uid) and
// calls kill(-1, N). Exit 0 = sent (or nothing left), 126 = refused/failed. If it dies by a
// signal, a process of the run killed it in the few microseconds it was that uid: spawn again.
// Timeouts: SIGTERM sweep, grace period, SIGKILL sweep; the untrusted outer bwrap ignores
// SIGTERM, so the SIGTERM sweep reaches the flow without tearing the namespace down early.
std::vector<std::string> BuildKillArgv(std::string_view launcher_path, uid_t uid, int signal);

// kill(-pgid, sig). The launcher's setsid makes pgid == the launcher pid (trusted: the flow's
// own group; children that setsid again are not reached: use the uid sweep when available).
// NotFound if the group is empty (ESRCH).
Status KillProcessGroup(pid_t pgid, int sig);

// Pids (thread-group ids) whose real or effective uid is `uid`, zombies included, from /proc.
// For tests and verification (I4); racy by nature.
std::vector<pid_t> ListProcessesOfUid(uid_t uid);

}  // namespace hero::sandbox
