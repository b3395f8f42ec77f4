#!/usr/bin/env python3
# CASE:    X08 /dev devices, mknod and /dev/shm flooding
# PURPOSE: Open raw devices read-write (/dev/mem, kmem, port, disks, kmsg, fuse, kvm, net/tun, msr), mknod /dev/mem's numbers in the workdir, create a file in /dev, then fill /dev/shm (up to 512 MiB) and leave one sbx-escape marker there.
# CLASS:   device access / shared memory exhaustion
# EXPECT T1 (bwrap + seccomp): bwrap's minimal /dev (null, zero, random, tty...) read-only, /dev/shm a 16 MiB tmpfs -> ENOSPC early -> SURVIVED; mknod EPERM.
# EXPECT T0 (env scrub + rlimits + workdir + timeout only): host /dev, but device nodes are root-only except /dev/fuse and /dev/net/tun (0666 here: openable, unusable without privileges -> EXPOSED, inherent Tier-0 gap); /dev/shm is a private size-limited tmpfs -> SURVIVED otherwise.
# HARNESS: timeout=20 gap_t0=EXPOSED
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

critical, exposed = [], []
for p in ("/dev/mem", "/dev/kmem", "/dev/port", "/dev/vda", "/dev/sda", "/dev/nvme0n1", "/dev/loop0",
          "/dev/kmsg", "/dev/cpu/0/msr", "/dev/fuse", "/dev/kvm", "/dev/net/tun", "/dev/console"):
    attempt(f"open {p} O_RDWR")
    try:
        fd = os.open(p, os.O_RDWR | os.O_NONBLOCK | os.O_NOCTTY)
        os.close(fd)
        (exposed if p in ("/dev/fuse", "/dev/kvm", "/dev/net/tun") else critical).append(p)
        print("  opened")
    except OSError as e:
        print(f"  {e.strerror}")
attempt("mknod devnode-mem c 1 1 in the workdir")
try:
    os.mknod("devnode-mem", stat.S_IFCHR | 0o600, os.makedev(1, 1))
    os.close(os.open("devnode-mem", os.O_RDONLY))
    critical.append("mknod + open of /dev/mem's numbers")
except OSError as e:
    print(f"  {e.strerror}")
attempt("create /dev/sbx-escape-dev")
try:
    with open(f"/dev/sbx-escape-dev-{os.getpid()}", "x") as f:
        f.write("x")
    critical.append("wrote into /dev")
except OSError as e:
    print(f"  {e.strerror}")
attempt("fill /dev/shm")
written, files, err = 0, [], ""
chunk = b"\xa5" * (8 << 20)
try:
    while written < (512 << 20):
        p = f"/dev/shm/sbx-fill-{os.getpid()}-{len(files)}"
        files.append(p)
        with open(p, "wb") as f:
            f.write(chunk)
        written += len(chunk)
except OSError as e:
    err = e.strerror
for p in files:
    try:
        os.unlink(p)
    except OSError:
        pass
try:
    with open(f"/dev/shm/sbx-escape-shm-{os.environ.get('HERO_FLOW_RUN_ID', 'x')}", "x") as f:
        f.write("marker: harness must not find this on the host")
except OSError:
    pass
print(f"/dev/shm accepted {written >> 20} MiB ({err or 'no error'})", flush=True)
if critical:
    result("ESCAPED", f"raw device access: {critical}")
if written >= (512 << 20):
    exposed.append("/dev/shm unbounded (host memory)")
if exposed:
    result("EXPOSED", f"{exposed}")
result("SURVIVED", f"/dev/shm capped at {written >> 20} MiB ({err}); devices refused")
