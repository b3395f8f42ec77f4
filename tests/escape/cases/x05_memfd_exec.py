#!/usr/bin/env python3
# CASE:    X05 memfd_create + exec
# PURPOSE: Copy /usr/bin/cat into an anonymous memfd and fexecve it (fileless execution): the new image must still carry no_new_privs and the seccomp filter.
# CLASS:   fileless execution / filter inheritance across exec
# EXPECT T1 (bwrap + seccomp): memfd exec works (it is no more than running a binary from /tmp) but the exec'd image keeps Seccomp: 2 and NoNewPrivs: 1 -> BLOCKED.
# EXPECT T0 (env scrub + rlimits + workdir + timeout only): exec works; NoNewPrivs stays 1 (set by the launcher before exec) -> BLOCKED.
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

import re
fd = os.memfd_create("sbx-payload", 0)
with open("/usr/bin/cat", "rb") as f:
    os.write(fd, f.read())


def status(text, key):
    m = re.search(rf"^{key}:\s*(\d+)", text, re.M)
    return m.group(1) if m else "?"


mine = open("/proc/self/status").read()
attempt("fexecve(memfd copy of /usr/bin/cat, /proc/self/status)")
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.dup2(w, 1)
    try:
        os.execve(fd, ["cat", "/proc/self/status"], {})
    except OSError as e:
        os.write(w, f"EXECFAIL {e.strerror}".encode())
    os._exit(1)
os.close(w)
chunks = []
while True:
    b = os.read(r, 65536)
    if not b:
        break
    chunks.append(b)
os.waitpid(pid, 0)
out = b"".join(chunks).decode(errors="replace")
if out.startswith("EXECFAIL"):
    result("BLOCKED", f"exec from memfd refused: {out}")
pairs = {k: (status(mine, k), status(out, k)) for k in ("Seccomp", "NoNewPrivs")}
print("parent -> exec'd image:", pairs, flush=True)
if pairs["Seccomp"][0] == "2" and pairs["Seccomp"][1] != "2":
    result("ESCAPED", "seccomp filter dropped across memfd exec")
if pairs["NoNewPrivs"][1] != "1":
    result("ESCAPED", "exec'd image runs without no_new_privs")
result("BLOCKED", f"memfd exec keeps the sandbox: {pairs}")
