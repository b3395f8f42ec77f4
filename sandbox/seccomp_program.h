// The untrusted profile's seccomp filter as a pure function SeccompPolicy -> BPF program (built
// with libseccomp, exported, read back). Any thread. Depends on base and libseccomp only.
//
// Policy (x86_64 only):
//  - foreign architecture and x32 syscall numbers (bit 0x40000000): KILL_PROCESS (SIGSYS, not
//    nameable; report it as kBadArchReason).
//  - default: ERRNO(ENOSYS), so libc falls back (clone3 -> clone).
//  - allowlist of ordinary syscalls (files, memory, threads, signals, time, sockets, SysV IPC,
//    fork/exec/wait, epoll, ...) generous enough for CPython + threads + asyncio + subprocess +
//    multiprocessing + sqlite3 + ssl.
//  - tripwires (TripwireSyscalls()): USER_NOTIF. The supervisor holds the listener, kills the
//    caller and records "blocked syscall <name>" (seccomp_notify.h). Without a listener the
//    kernel fails them with ENOSYS; they never execute.
//  - ERRNO(EPERM): identity/time/host changes (setuid family, capset, sethostname, ...);
//    clone with any CLONE_NEW* flag; ioctl TIOCSTI / TIOCLINUX compared on the low 32 bits.
//  - socket/socketpair: AF_UNIX only (+ AF_INET, AF_INET6 for socket when network is on);
//    any other family ERRNO(EAFNOSUPPORT).
//  - personality: only PER_LINUX, PER_LINUX32 and the 0xffffffff query; others ENOSYS.
#pragma once

#include <linux/filter.h>

#include <string>
#include <string_view>
#include <vector>

#include "supervisor/base/result.h"

namespace hero::sandbox {

struct SeccompPolicy {
  bool network = false;
};

inline constexpr std::string_view kBadArchReason =
    "blocked syscall (foreign architecture or x32 ABI)";

// The BPF program, ready for seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER).
// Errors: Internal if libseccomp rejects a rule or the export fails.
Result<std::vector<sock_filter>> BuildSeccompProgram(const SeccompPolicy& policy);

// Names of the syscalls that end the caller (USER_NOTIF). Names unknown to this libseccomp are
// skipped by the builder (they stay at the ENOSYS default).
const std::vector<std::string_view>& TripwireSyscalls();

// Human-readable libseccomp pseudo-code of the filter (for `hero_logic doctor` and debugging).
Result<std::string> DescribeSeccompProgram(const SeccompPolicy& policy);

}  // namespace hero::sandbox
