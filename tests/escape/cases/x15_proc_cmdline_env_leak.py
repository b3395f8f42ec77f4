#!/usr/bin/env python3
# CASE:    X15 env / argv leakage via /proc/1, /proc/<ppid> and /proc/*
# PURPOSE: Read cmdline and environ of pid 1, the parent and every visible process outside this run's session; look for the supervisor canary and secret-looking variables.
# CLASS:   environment / argument leakage
# EXPECT T1 (bwrap + seccomp): pid 1 is bwrap's init, started with an empty environment; its cmdline holds only the sandbox's own argv -> BLOCKED.
# EXPECT T0 (env scrub + rlimits + workdir + timeout only): host pid namespace: cmdlines are world-readable (host process list visible: documented Tier-0 gap, not a secret), environ of other uids is EACCES -> BLOCKED. A readable foreign environ means two runs share a uid.
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

SUSPECT = (b"KEY", b"TOKEN", b"SECRET", b"PASSW", b"CREDENTIAL", b"AWS_", b"SSH_AUTH_SOCK", b"SUPERVISOR")
me = os.getpid()


def session(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[3])


my_sid = session(me)
esc, exposed, seen_cmdlines = [], [], 0
for pid in ["1", str(os.getppid())] + sorted(p for p in os.listdir("/proc") if p.isdigit()):
    try:
        if int(pid) == me or session(int(pid)) == my_sid:
            continue
    except (OSError, IndexError, ValueError):
        continue
    for what in ("cmdline", "environ"):
        try:
            data = open(f"/proc/{pid}/{what}", "rb").read()
        except OSError:
            continue
        if b"sbx-canary-" in data:
            esc.append(f"/proc/{pid}/{what}")
        if what == "environ" and data:
            keys = [kv.split(b"=", 1)[0] for kv in data.split(b"\0") if kv]
            bad = [k.decode() for k in keys if any(s in k.upper() for s in SUSPECT)]
            exposed.append(f"/proc/{pid}/environ readable ({len(keys)} vars{', suspect ' + str(bad) if bad else ''})")
        if what == "cmdline":
            seen_cmdlines += 1
            if pid == "1":
                print("pid 1 cmdline:", data.replace(b"\0", b" ")[:300].decode(errors="replace"), flush=True)
attempt(f"read cmdline/environ of {seen_cmdlines} foreign processes")
if esc:
    result("ESCAPED", f"canary secret readable in {esc[:5]}")
if exposed:
    result("EXPOSED", "; ".join(exposed[:5]))
result("BLOCKED", f"{seen_cmdlines} foreign cmdlines visible, no foreign environment readable")
