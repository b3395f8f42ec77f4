#!/usr/bin/env python3
# CASE:    X09 clone(CLONE_NEWUSER ...) and clone3 via ctypes
# PURPOSE: Raw clone syscalls with namespace flags (user, user|net, user|mnt, pid, cgroup, upper-32-bit garbage) and clone3 with CLONE_NEWUSER: the unshare-free way into a new namespace.
# CLASS:   namespace creation via clone/clone3
# EXPECT T1 (bwrap + seccomp): seccomp: clone with any CLONE_NEW* flag -> EPERM, clone3 -> ENOSYS (bwrap --disable-userns as well) -> BLOCKED.
# EXPECT T0 (env scrub + rlimits + workdir + timeout only): no seccomp: unprivileged user namespaces succeed -> EXPOSED (inherent Tier-0 gap, as E20).
# HARNESS: timeout=6 statuses_t0=ok,failed,timed_out gap_t0=EXPOSED
# ALWAYS:  invariants I1-I7 from shared/escape/README.md (supervisor healthy, canary run OK, terminal status,
#          no surviving process, nothing outside workdir, no canary leak, other runs unaffected).
# VERDICT: last line "RESULT: <BLOCKED|SURVIVED|SENT|EXPOSED|ESCAPED|SKIPPED> ..."; exit 0, 43 (EXPOSED),
#          42 (ESCAPED). Death by SIGSYS right after an "ATTEMPT:" line = seccomp tripwire = BLOCKED.
import os, sys, stat, time


def result(kind, msg=""):
    print(f"RESULT: {kind} {msg}".rstrip(), flush=True)
    sys.exit({"ESCAPED": 42, "EXPOSED": 43}.get(kind, 0))


def attempt(what):
    print(f"ATTEMPT: {what}", flush=True)

import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def sc(nr, *args):
    """Raw syscall; returns result or raises OSError(errno)."""
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
    if r == -1:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return r


def probe(label, fn):
    """Run fn in a forked child so a seccomp kill (SIGSYS) only ends the probe."""
    rfd, wfd = os.pipe()
    attempt(label)
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        try:
            msg = f"OK {fn()}"
        except OSError as e:
            msg = f"ERR {e.errno} {e.strerror}"
        except Exception as e:  # noqa: BLE001
            msg = f"EXC {e!r}"
        os.write(wfd, msg.encode()[:400])
        os._exit(0)
    os.close(wfd)
    out = os.read(rfd, 500).decode(errors="replace")
    os.close(rfd)
    _, st = os.waitpid(pid, 0)
    if os.WIFSIGNALED(st):
        out = f"SIG {os.WTERMSIG(st)}"
    print(f"  {label}: {out}", flush=True)
    return out

SIGCHLD = 17
NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET = (0x20000, 0x2000000, 0x4000000, 0x8000000,
                                                               0x10000000, 0x20000000, 0x40000000)


def raw_clone(flags):
    pid = sc(56, flags | SIGCHLD, 0, 0, 0, 0)
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return "child created"


def raw_clone3(flags):
    args = (ctypes.c_uint64 * 11)(flags, 0, 0, 0, SIGCHLD, 0, 0, 0, 0, 0, 0)
    pid = sc(435, ctypes.addressof(args), 88)
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return "child created"


ok = []
for name, fl in (("user", NEWUSER), ("user|net", NEWUSER | NEWNET), ("user|mnt", NEWUSER | NEWNS),
                 ("user|pid", NEWUSER | NEWPID), ("user|cgroup|uts|ipc", NEWUSER | NEWCGROUP | NEWUTS | NEWIPC),
                 ("user | 1<<32", NEWUSER | (1 << 32))):
    if probe(f"clone({name})", lambda fl=fl: raw_clone(fl)).startswith("OK"):
        ok.append(f"clone {name}")
if probe("clone3(CLONE_NEWUSER)", lambda: raw_clone3(NEWUSER)).startswith("OK"):
    ok.append("clone3 user")
if ok:
    result("EXPOSED", f"namespace clones allowed: {ok}")
result("BLOCKED", "clone/clone3 with namespace flags denied")
