#!/usr/bin/env python3
# CASE:    X13 write past RLIMIT_FSIZE
# PURPOSE: Seek past the file-size limit (sparse, so no tmpfs space is used) and write one byte; the EFBIG escapes the script.
# CLASS:   resource exhaustion: file size
# EXPECT T1 (bwrap + seccomp): EFBIG (SIGXFSZ ignored by the boot module) -> exit 4 -> status killed, reason 'file size limit 64 MiB exceeded'.
# EXPECT T0 (env scrub + rlimits + workdir + timeout only): same.
# HARNESS: statuses=killed reason=file.size.limit.*exceeded
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
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
print(f"RLIMIT_FSIZE soft={soft} hard={hard}", flush=True)
off = (soft if soft != resource.RLIM_INFINITY else 64 << 20) + (1 << 20)
with open("big.bin", "wb") as f:
    f.seek(off)
    attempt(f"write 1 byte at offset {off} (past RLIMIT_FSIZE)")
    f.write(b"x")
    f.flush()
result("EXPOSED", "wrote past RLIMIT_FSIZE")
