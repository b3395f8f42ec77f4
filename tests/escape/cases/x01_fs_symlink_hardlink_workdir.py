#!/usr/bin/env python3
# CASE:    X01 symlinks / hardlinks out of the workdir
# PURPOSE: Plant symlinks in the workdir to /etc/passwd, a host directory (/var/lib/sbx-target, planted by the harness), / and /proc/1/root; write through them; hardlink host files (fs.protected_hardlinks); leave a 0000 directory, a deep tree, a symlink loop and a dangling link behind so the supervisor's workdir removal must cope without following any link.
# CLASS:   filesystem integrity: links out of the workdir / removal that follows links
# EXPECT T1 (bwrap + seccomp): workdir is a private tmpfs; /var/lib and the target do not exist in the sandbox; writes through links fail -> BLOCKED; harness: target and /etc/passwd unchanged after the run's removal (I5).
# EXPECT T0 (env scrub + rlimits + workdir + timeout only): links are created in the host workdir but the run uid cannot write through them (permissions); removal (std::filesystem::remove_all) unlinks links, never their targets -> BLOCKED; I5 checks the target survives.
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

TARGET = "/var/lib/sbx-target"
home = os.path.realpath(os.environ.get("HOME") or os.getcwd())
os.chdir(home)
esc = []
links = {"link-passwd": "/etc/passwd", "link-target-dir": TARGET, "link-target-file": TARGET + "/keep.txt",
         "link-root": "/", "link-parent": "..", "link-proc1-root": "/proc/1/root", "link-self-cwd": "/proc/self/cwd"}
for n, t in links.items():
    attempt(f"symlink {n} -> {t}")
    try:
        os.symlink(t, n)
    except OSError as e:
        print(f"  {e.strerror}")
for n in ("link-target-file", "link-passwd"):
    attempt(f"append through {n}")
    try:
        with open(n, "a") as f:
            f.write("sbx\n")
        esc.append(f"wrote through {n}")
    except OSError as e:
        print(f"  {e.strerror}")
attempt("create a file through link-target-dir")
try:
    with open("link-target-dir/sbx-escape-through-link", "x") as f:
        f.write("x")
    esc.append("created a file through the directory link")
except OSError as e:
    print(f"  {e.strerror}")
attempt("unlink through link-target-dir")
try:
    os.unlink("link-target-dir/keep.txt")
    esc.append("deleted the host target through a link")
except OSError as e:
    print(f"  {e.strerror}")
for src in ("/etc/passwd", TARGET + "/keep.txt", "/usr/bin/python3"):
    attempt(f"hardlink {src}")
    try:
        os.link(src, "hard-" + os.path.basename(src))
        print("  linked (workdir removal must only drop the link)")
    except OSError as e:
        print(f"  {e.strerror}")
os.makedirs("deep/" + "d/" * 60, exist_ok=True)
os.symlink("../..", "deep/loop")
os.symlink("/nonexistent/sbx", "dangling")
os.makedirs("locked/inner")
open("locked/inner/f", "w").close()
os.chmod("locked/inner", 0)
os.chmod("locked", 0)
print("planted: links, hardlinks, deep tree, loop, dangling link, 0000 directory", flush=True)
if esc:
    result("ESCAPED", "; ".join(esc))
result("BLOCKED", "links stayed inside the workdir; harness checks removal did not follow them (I5)")
