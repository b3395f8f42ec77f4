#!/usr/bin/env python3
# CASE:    X06 AF_NETLINK / AF_PACKET / raw and exotic socket families
# PURPOSE: socket() for NETLINK_ROUTE/AUDIT/KOBJECT_UEVENT, AF_PACKET, raw/ping AF_INET, AF_INET6, AF_ALG, AF_VSOCK, AF_KEY, AF_XDP, AF_TIPC, AF_RDS, AF_CAN, AF_BLUETOOTH, and AF_UNIX with garbage in the upper 32 bits of the family.
# CLASS:   socket families (kernel attack surface, packet capture)
# EXPECT T1 (bwrap + seccomp): seccomp allows AF_UNIX only (exact 64-bit compare) -> every other family EAFNOSUPPORT -> BLOCKED.
# EXPECT T0 (env scrub + rlimits + workdir + timeout only): no seccomp: unprivileged families (netlink, AF_ALG, INET6, ...) open -> EXPOSED (inherent Tier-0 gap); AF_PACKET/raw need CAP_NET_RAW -> EPERM.
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

import socket
fams = [("NETLINK_ROUTE", 16, socket.SOCK_RAW, 0), ("NETLINK_AUDIT", 16, socket.SOCK_RAW, 9),
        ("NETLINK_KOBJECT_UEVENT", 16, socket.SOCK_DGRAM, 15), ("AF_PACKET", 17, socket.SOCK_RAW, 0x0300),
        ("AF_INET raw icmp", 2, socket.SOCK_RAW, 1), ("AF_INET ping", 2, socket.SOCK_DGRAM, 1),
        ("AF_INET6 udp", 10, socket.SOCK_DGRAM, 0), ("AF_ALG", 38, socket.SOCK_SEQPACKET, 0),
        ("AF_VSOCK", 40, socket.SOCK_STREAM, 0), ("AF_KEY", 15, socket.SOCK_RAW, 2),
        ("AF_XDP", 44, socket.SOCK_RAW, 0), ("AF_TIPC", 30, socket.SOCK_RDM, 0),
        ("AF_RDS", 21, socket.SOCK_SEQPACKET, 0), ("AF_CAN", 29, socket.SOCK_RAW, 1),
        ("AF_BLUETOOTH", 31, socket.SOCK_RAW, 1)]
opened, privileged = [], []
for label, fam, typ, proto in fams:
    attempt(f"socket({label})")
    try:
        s = socket.socket(fam, typ, proto)
        opened.append(label)
        if label in ("AF_PACKET", "AF_INET raw icmp"):
            privileged.append(label)
        s.close()
        print("  opened")
    except OSError as e:
        print(f"  {e.strerror}")
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
attempt("socket(AF_UNIX | 1<<32, SOCK_STREAM) (upper-bit garbage)")
r = libc.syscall(ctypes.c_long(41), ctypes.c_long(1 | (1 << 32)), ctypes.c_long(1), ctypes.c_long(0))
print(f"  -> {r} errno={ctypes.get_errno()}")
if r >= 0:
    os.close(r)
ifaces = []
try:
    ifaces = [l.split(":")[0].strip() for l in open("/proc/net/dev").read().splitlines()[2:]]
except OSError:
    pass
print("interfaces:", ifaces, flush=True)
if privileged and any(i != "lo" for i in ifaces):
    result("ESCAPED", f"packet capture on a real network: {privileged}")
if opened:
    result("EXPOSED", f"socket families available: {opened}")
result("BLOCKED", "only AF_UNIX sockets")
