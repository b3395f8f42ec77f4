#!/usr/bin/env python3
# CASE:    X17 host path sockets and loopback services
# PURPOSE: Connect to the harness canaries /tmp/sbx-canary.sock and 127.0.0.1:47001 / [::1]:47001, the daemon's 127.0.0.1:8765, and every *.sock under /run, /var/run, /var/lib/hero_logic and /tmp (docker, dbus, systemd, hero_logic).
# CLASS:   host services over path sockets and loopback (bypassing the filesystem view)
# EXPECT T1 (bwrap + seccomp): no host /run or /tmp, own network namespace, AF_INET refused -> BLOCKED.
# EXPECT T0 (env scrub + rlimits + workdir + timeout only): host network is shared: 127.0.0.1:47001 accepts -> ESCAPED (inherent Tier-0 gap, as E09/E11); /tmp is private so the path canary is not reachable; other host sockets depend on their permissions.
# HARNESS: gap_t0=ESCAPED,EXPOSED timeout=20
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

import glob, socket
hits = []
targets = [("unix", "/tmp/sbx-canary.sock")]
for pat in ("/run/*.sock", "/run/*/*.sock", "/run/*/*/*", "/var/run/*.sock", "/var/run/*/*.sock", "/tmp/*.sock",
            "/tmp/*/*.sock", "/var/lib/hero_logic/*.sock", "/run/systemd/private", "/run/dbus/system_bus_socket"):
    for p in glob.glob(pat):
        try:
            if stat.S_ISSOCK(os.stat(p).st_mode):
                targets.append(("unix", p))
        except OSError:
            pass
targets += [("inet", ("127.0.0.1", 47001)), ("inet6", ("::1", 47001)), ("inet", ("127.0.0.1", 8765))]
for kind, addr in dict.fromkeys(targets):
    attempt(f"connect {kind} {addr}")
    fam = {"unix": socket.AF_UNIX, "inet": socket.AF_INET, "inet6": socket.AF_INET6}[kind]
    try:
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(1)
        s.connect(addr)
        hits.append(f"{kind}:{addr}")
        s.close()
        print("  connected")
    except OSError as e:
        print(f"  {e.strerror or e}")
canary = [h for h in hits if "sbx-canary" in h or "47001" in h]
if canary:
    result("ESCAPED", f"harness canary reached: {canary}")
if hits:
    result("EXPOSED", f"host sockets reachable: {hits[:8]}")
result("BLOCKED", "no host socket reachable")
