#!/usr/bin/env python3
# CASE:    X04 personality / prctl games
# PURPOSE: personality(ADDR_NO_RANDOMIZE | READ_IMPLIES_EXEC | MMAP_PAGE_ZERO), clear no_new_privs, raise ambient caps, set securebits, PR_SET_MM, rename the process to 'bwrap' (the supervisor's SIGTERM loop skips that name).
# CLASS:   process attributes: ASLR off, capability and no_new_privs games
# EXPECT T1 (bwrap + seccomp): seccomp allows personality only for PER_LINUX/PER_LINUX32/query (others ENOSYS); prctl cannot clear NNP or gain caps -> BLOCKED.
# EXPECT T0 (env scrub + rlimits + workdir + timeout only): no seccomp: personality flags are accepted (they only affect the run's own children, an exploitation aid) -> EXPOSED (inherent Tier-0 gap); NNP/caps still refused.
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
libc.personality.restype = ctypes.c_int
libc.personality.argtypes = [ctypes.c_ulong]
libc.prctl.restype = ctypes.c_int
libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
esc, exposed = [], []
for name, flag in (("ADDR_NO_RANDOMIZE", 0x0040000), ("READ_IMPLIES_EXEC", 0x0400000),
                   ("MMAP_PAGE_ZERO", 0x0100000), ("ADDR_COMPAT_LAYOUT", 0x0200000)):
    attempt(f"personality({name})")
    ctypes.set_errno(0)
    r = libc.personality(flag)
    e = ctypes.get_errno()
    cur = libc.personality(0xffffffff)
    print(f"  -> {r} errno={e} now={cur:#x}", flush=True)
    if r != -1 and cur != -1 and cur & flag:
        exposed.append(name)
    libc.personality(0)


def nnp():
    with open("/proc/self/status") as f:
        return [l.split()[1] for l in f if l.startswith("NoNewPrivs")][0]


def pr(label, *args):
    attempt(label)
    ctypes.set_errno(0)
    a = [x & 0xffffffffffffffff for x in (list(args) + [0] * 5)[:5]]
    r = libc.prctl(a[0], a[1], a[2], a[3], a[4])
    e = ctypes.get_errno()
    print(f"  -> {r} errno={e} ({os.strerror(e) if e else 'ok'})", flush=True)
    return r


before = nnp()
pr("prctl(PR_SET_NO_NEW_PRIVS, 0)", 38, 0)
if before == "1" and nnp() != "1":
    esc.append("cleared no_new_privs")
if pr("prctl(PR_CAP_AMBIENT, RAISE, CAP_SYS_ADMIN)", 47, 2, 21) == 0:
    esc.append("raised an ambient capability")
if pr("prctl(PR_SET_SECUREBITS, 0)", 28, 0) == 0:
    print("  (securebits 0 accepted: no effect without capabilities)")
if pr("prctl(PR_SET_MM, PR_SET_MM_START_BRK, 0)", 35, 6, 0) == 0:
    esc.append("PR_SET_MM accepted (needs CAP_SYS_RESOURCE)")
pr("prctl(PR_SET_DUMPABLE, 1)", 4, 1)
pr("prctl(PR_SET_NAME, 'bwrap')", 15, ctypes.addressof(ctypes.create_string_buffer(b"bwrap")))
with open("/proc/self/status") as f:
    caps = [l.strip() for l in f if l.startswith(("CapEff", "CapPrm", "CapAmb", "NoNewPrivs", "Seccomp:"))]
print(caps, flush=True)
if any(l.startswith(("CapEff", "CapPrm", "CapAmb")) and int(l.split()[1], 16) for l in caps):
    esc.append(f"capabilities present: {caps}")
if esc:
    result("ESCAPED", "; ".join(esc))
if exposed:
    result("EXPOSED", f"personality flags accepted: {exposed}")
result("BLOCKED", "personality limited, no_new_privs kept, no capabilities")
