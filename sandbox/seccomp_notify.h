// Supervisor side of seccomp user notification: receive the listener fd the inner launcher
// sends over the notify socket, and turn each notification (a tripwire syscall) into a killed
// task plus a named reason. Loop thread; never blocks. Depends on base and libseccomp only.
#pragma once

#include <sys/types.h>

#include <string>

#include "supervisor/base/result.h"
#include "supervisor/base/unique_fd.h"

namespace hero::sandbox {

struct BlockedCall {
  pid_t pid = 0;  // offending task (thread id) in the supervisor's pid namespace; 0 if unknown
  int syscall_nr = -1;
  std::string name;  // "ptrace"; "syscall_<nr>" if libseccomp cannot name it
  // "blocked syscall <name>": the run's reason when this ended it.
  std::string Reason() const { return "blocked syscall " + name; }
};

// Receives exactly one fd (SCM_RIGHTS, MSG_CMSG_CLOEXEC) from `sock` and checks that it is a
// seccomp listener. Extra fds are closed.
// Errors: Unavailable (EAGAIN on a non-blocking socket: nothing yet), NotFound (EOF: the
// launcher exited without sending, e.g. it failed), InvalidArgument (no fd, several fds, or not
// a seccomp listener), Io.
Result<UniqueFd> ReceiveListenerFd(int sock);

// Handles one pending notification on `listener_fd`. Safe to call when the fd is not readable
// (returns Unavailable without blocking). Kills the whole thread group of the calling task with
// SIGKILL through a pidfd opened before the notification's validity check (no pid-reuse race),
// then answers EPERM if the notification is still pending.
// Errors: Unavailable (nothing pending / spurious wake-up), NotFound (the task died meanwhile),
// Io (listener broken).
Result<BlockedCall> HandleNotification(int listener_fd);

}  // namespace hero::sandbox
