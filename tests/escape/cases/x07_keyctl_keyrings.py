#!/usr/bin/env python3
# CASE:    X07 keyctl / add_key / request_key (main process dies last)
# PURPOSE: Probe add_key and request_key in forked children, describe the session keyring (a setuid child still possesses its parent's session keyring), then call keyctl in the MAIN process: under Tier 1 the run must end killed with reason 'blocked syscall keyctl', matching the last ATTEMPT line.
# CLASS:   kernel keyrings (secrets of other users, kernel attack surface) / tripwire reason on the main process
# EXPECT T1 (bwrap + seccomp): tripwires: probes die SIG 31; the main process is killed -> status killed, reason 'blocked syscall keyctl'.
# EXPECT T0 (env scrub + rlimits + workdir + timeout only): no seccomp: keyctl works; the session keyring may belong to the supervisor's user -> EXPOSED (inherent Tier-0 gap: keyrings are per uid, possession is inherited).
# HARNESS: statuses_t1=killed reason=blocked.syscall.keyctl gap_t0=EXPOSED
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

import ctypes
KEYCTL_GET_KEYRING_ID, KEYCTL_DESCRIBE, KEY_SPEC_SESSION_KEYRING = 0, 6, -3
buf = ctypes.create_string_buffer(256)
probe("add_key(user, sbx, session)", lambda: sc(248, ctypes.addressof(ctypes.create_string_buffer(b"user")),
                                                  ctypes.addressof(ctypes.create_string_buffer(b"sbx-key")),
                                                  ctypes.addressof(ctypes.create_string_buffer(b"v")), 1,
                                                  KEY_SPEC_SESSION_KEYRING))
probe("request_key(user, sbx-missing)", lambda: sc(249, ctypes.addressof(ctypes.create_string_buffer(b"user")),
                                                   ctypes.addressof(ctypes.create_string_buffer(b"sbx-missing")), 0, 0))
attempt("keyctl(KEYCTL_GET_KEYRING_ID, session) in the main process")
kid = sc(250, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0)
n = sc(250, KEYCTL_DESCRIBE, kid, ctypes.addressof(buf), 256)
desc = buf.value.decode(errors="replace")
print(f"session keyring {kid}: {desc}", flush=True)
owner = desc.split(";")[1] if ";" in desc else "?"
result("EXPOSED", f"keyctl reachable; session keyring owned by uid {owner} (we are {os.getuid()})")
