#!/usr/bin/env python3
# CASE:    X03p partner run for X03
# PURPOSE: Writes a secret into its own workdir and stays alive so X03 can try to read it.
# CLASS:   helper (not a case)
# EXPECT T1 (bwrap + seccomp): -
# EXPECT T0 (env scrub + rlimits + workdir + timeout only): -
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

home = os.path.realpath(os.environ.get("HOME") or os.getcwd())
with open(os.path.join(home, "partner-secret.txt"), "w") as f:
    f.write("sbx-partner-secret\n")
print("partner workdir", home, flush=True)
time.sleep(20)
