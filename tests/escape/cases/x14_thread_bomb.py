#!/usr/bin/env python3
# CASE:    X14 thread bomb
# PURPOSE: Start sleeping threads until the kernel refuses (RLIMIT_NPROC counts threads of the run uid); the RuntimeError escapes the script.
# CLASS:   resource exhaustion: threads
# EXPECT T1 (bwrap + seccomp): thread creation fails at the process cap -> boot maps "can't start new thread" to exit 5 -> status killed, reason 'process limit 64 reached' (or the script survives).
# EXPECT T0 (env scrub + rlimits + workdir + timeout only): same.
# HARNESS: timeout=15 statuses=killed,ok reason=process.limit
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

import threading
ev = threading.Event()
n = 0
attempt("start threads until the process limit")
try:
    while n < 5000:
        threading.Thread(target=ev.wait, daemon=True).start()
        n += 1
finally:
    print(f"started {n} threads", flush=True)
result("SURVIVED", f"{n} threads started without hitting a limit")
