#!/usr/bin/env python3
# CASE:    X10 setrlimit / prlimit raising limits
# PURPOSE: Raise every hard rlimit above its value or to infinity, prlimit() pid 1 and the parent upwards.
# CLASS:   resource limits self-escalation
# EXPECT T1 (bwrap + seccomp): no CAP_SYS_RESOURCE: EPERM for every raise -> BLOCKED.
# EXPECT T0 (env scrub + rlimits + workdir + timeout only): same (run uid is unprivileged) -> BLOCKED.
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
INF = resource.RLIM_INFINITY
names = [(n, getattr(resource, "RLIMIT_" + n)) for n in ("AS", "CPU", "NOFILE", "NPROC", "FSIZE", "CORE", "MEMLOCK",
                                                          "STACK", "MSGQUEUE", "RTPRIO", "NICE", "SIGPENDING")]
raised = []
for n, r in names:
    soft, hard = resource.getrlimit(r)
    if hard == INF:
        continue
    for new in (hard + 1, INF):
        attempt(f"setrlimit({n}, hard {hard} -> {new})")
        try:
            resource.setrlimit(r, (min(soft, hard), new))
            raised.append(n)
            print("  raised!")
        except (ValueError, OSError) as e:
            print(f"  {e}")
    if resource.getrlimit(r)[1] != hard and resource.getrlimit(r)[1] > hard:
        raised.append(n)
for pid in (1, os.getppid()):
    attempt(f"prlimit({pid}, NPROC, inf)")
    try:
        resource.prlimit(pid, resource.RLIMIT_NPROC, (INF, INF))
        raised.append(f"prlimit {pid}")
    except (ValueError, OSError) as e:
        print(f"  {e}")
print(open("/proc/self/limits").read(), flush=True)
if raised:
    result("ESCAPED", f"limits raised: {sorted(set(raised))}")
result("BLOCKED", "no limit could be raised")
