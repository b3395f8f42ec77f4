#!/usr/bin/env python3
# CASE:    X03 read another run's workdir
# PURPOSE: While a partner run is alive, guess its workdir (sibling ids of HERO_FLOW_RUN_ID under the work root, /proc/*/cwd, HOME= in /proc/*/environ) and read its files, staged source and input; try to drop a file into it.
# CLASS:   isolation between runs (filesystem)
# EXPECT T1 (bwrap + seccomp): the workdir is a private tmpfs and other runs are in other mount/pid namespaces -> nothing found -> BLOCKED.
# EXPECT T0 (env scrub + rlimits + workdir + timeout only): each run has its own uid and a 0700 workdir under a 0711 root -> EACCES -> BLOCKED. A readable partner secret means two runs share a uid.
# HARNESS: partner=partners/x03_partner.py
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
rid = int(os.environ.get("HERO_FLOW_RUN_ID", "0") or 0)
parent = os.path.dirname(home)
cands = set(os.path.join(parent, str(i)) for i in range(max(1, rid - 8), rid + 3))
for p in os.listdir("/proc"):
    if not p.isdigit() or int(p) == os.getpid():
        continue
    try:
        cands.add(os.readlink(f"/proc/{p}/cwd"))
    except OSError:
        pass
    try:
        for kv in open(f"/proc/{p}/environ", "rb").read().split(b"\0"):
            if kv.startswith(b"HOME="):
                cands.add(kv[5:].decode(errors="replace"))
    except OSError:
        pass
cands.discard(home)
cands = sorted(c for c in cands if c not in ("/", ""))
print(f"candidate workdirs: {len(cands)}", flush=True)
found = []
for d in cands:
    for name in ("partner-secret.txt", ".hero/flow.py", ".hero/input.json"):
        p = os.path.join(d, name)
        try:
            with open(p, "rb") as f:
                data = f.read(200)
            if name != "partner-secret.txt" or b"sbx-partner-secret" in data:
                found.append(p)
        except OSError:
            pass
    try:
        with open(os.path.join(d, "sbx-escape-cross-run"), "x") as f:
            f.write("x")
        found.append(f"wrote into {d}")
    except OSError:
        pass
attempt(f"read {len(cands)} candidate workdirs of other runs")
if found:
    result("ESCAPED", f"read/wrote another run's workdir: {found[:5]}")
result("BLOCKED", "no other run's files reachable")
