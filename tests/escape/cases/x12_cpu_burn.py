#!/usr/bin/env python3
# CASE:    X12 CPU burn past RLIMIT_CPU
# PURPOSE: Lower the soft RLIMIT_CPU to 1 s (the default, 2x the wall timeout, cannot be reached before the wall clock on 2 cores) and spin: SIGXCPU must end the run with a named reason.
# CLASS:   resource exhaustion: CPU
# EXPECT T1 (bwrap + seccomp): SIGXCPU -> status killed, reason 'CPU limit ... exceeded'.
# EXPECT T0 (env scrub + rlimits + workdir + timeout only): same.
# HARNESS: timeout=15 statuses=killed reason=CPU.limit.*exceeded
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

import resource
soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
print(f"RLIMIT_CPU soft={soft} hard={hard}", flush=True)
resource.setrlimit(resource.RLIMIT_CPU, (1, hard))
attempt("burn CPU past RLIMIT_CPU (soft lowered to 1 s)")
x, t0 = 0, time.time()
while time.time() - t0 < 30:
    x += 1
result("SURVIVED", "no SIGXCPU after 30 s of CPU")
