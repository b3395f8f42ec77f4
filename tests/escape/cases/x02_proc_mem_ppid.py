#!/usr/bin/env python3
# CASE:    X02 /proc/self/mem and /proc/<ppid>/ paths
# PURPOSE: Read own memory through /proc/self/mem (allowed), then environ, mem, fd/*, root/ of the parent, pid 1 and every visible process outside this run's session; look for the supervisor's canary env and files reachable only via /proc/<pid>/root.
# CLASS:   cross-process memory and environment via /proc
# EXPECT T1 (bwrap + seccomp): own pid namespace: only bwrap's init (empty environment) and this run are visible; nothing foreign readable -> BLOCKED.
# EXPECT T0 (env scrub + rlimits + workdir + timeout only): host pid namespace, but other processes run as root (non-dumpable supervisor) or other run uids: environ/mem/fd/root of foreign processes are EACCES -> BLOCKED. A foreign environ that is readable means two runs share a uid.
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
me = os.getpid()


def session(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[3])


my_sid = session(me)
attempt("read own memory through /proc/self/mem")
buf = ctypes.create_string_buffer(b"sbx-self-read")
with open("/proc/self/mem", "rb") as f:
    f.seek(ctypes.addressof(buf))
    print("  read", f.read(13), flush=True)

esc, exposed = [], []
pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != me)
bwrap_init = False
try:
    bwrap_init = open("/proc/1/comm").read().strip() == "bwrap"
except OSError:
    pass
for pid in pids:
    try:
        if session(pid) == my_sid:
            continue  # our own process tree
    except (OSError, IndexError, ValueError):
        continue
    for what in ("environ", "mem", "fd", "root"):
        path = f"/proc/{pid}/{what}"
        try:
            if what == "environ":
                data = open(path, "rb").read()
                if b"sbx-canary" in data:
                    esc.append(f"{path}: supervisor canary")
                elif data:
                    exposed.append(f"{path} ({len(data)} bytes)")
            elif what == "mem":
                with open(f"/proc/{pid}/maps") as m:
                    start = int(m.readline().split("-")[0], 16)
                with open(path, "rb") as f:
                    f.seek(start)
                    data = f.read(16)
                if not (bwrap_init and pid == 1):
                    esc.append(f"{path}: read {len(data)} bytes of a foreign process")
            elif what == "fd":
                for fd in os.listdir(path):
                    try:
                        os.close(os.open(f"{path}/{fd}", os.O_RDONLY | os.O_NONBLOCK))
                        if not (bwrap_init and pid == 1):
                            esc.append(f"opened {path}/{fd}")
                        break
                    except OSError:
                        pass
            elif what == "root":
                for secret in ("etc/sbx-canary", "root/.ssh/id_sbx_canary", "etc/shadow"):
                    try:
                        data = open(f"{path}/{secret}", "rb").read(200)
                        esc.append(f"{path}/{secret} readable ({len(data)} bytes)")
                    except OSError:
                        pass
        except (OSError, ValueError, IndexError):
            pass
print(f"foreign processes visible: {len(pids)}; bwrap init: {bwrap_init}", flush=True)
if esc:
    result("ESCAPED", "; ".join(esc[:6]))
if exposed:
    result("EXPOSED", "foreign environ readable: " + "; ".join(exposed[:6]))
result("BLOCKED", "no foreign /proc/<pid>/{environ,mem,fd,root} readable")
