#!/usr/bin/env python3
# CASE:    X11 kill(-1, SIGKILL) and SIGKILL to every visible pid from the main process
# PURPOSE: The main process (not a child, unlike E14) sends kill(-1, SIGKILL) and then SIGKILL to every pid in /proc; it survives (kill(-1) spares the caller) and reports what was delivered.
# CLASS:   process isolation / availability of other runs and the supervisor
# EXPECT T1 (bwrap + seccomp): pid namespace: only this run's processes (and bwrap's init, which ignores it) are reachable -> SURVIVED; neighbour run and supervisor unaffected (I1, I7).
# EXPECT T0 (env scrub + rlimits + workdir + timeout only): distinct uid per run: only this run's processes are reachable -> SURVIVED; neighbour and supervisor unaffected. A killed neighbour means two runs share a uid.
# HARNESS: statuses=ok,killed
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

import signal
attempt("kill(-1, SIGKILL) from the main process")
try:
    os.kill(-1, signal.SIGKILL)
    print("  delivered", flush=True)
except OSError as e:
    print(f"  {e}", flush=True)
attempt("SIGKILL every visible pid")
hits = []
for p in sorted(int(x) for x in os.listdir("/proc") if x.isdigit()):
    if p == os.getpid():
        continue
    try:
        os.kill(p, signal.SIGKILL)
        hits.append(p)
    except OSError:
        pass
print(f"  delivered to {len(hits)} pids: {hits[:20]}", flush=True)
time.sleep(0.5)
result("SURVIVED", f"kill(-1) + {len(hits)} per-pid SIGKILLs sent; harness checks neighbour (I7) and supervisor (I1)")
