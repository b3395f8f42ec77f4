#!/usr/bin/env python3
# CASE:    X16 kernel attack surface sweep: bpf, perf, userfaultfd, handles, ia32 / x32 syscalls
# PURPOSE: Forked probes: bpf(MAP_CREATE), perf_event_open(self), userfaultfd, pidfd_getfd(parent), process_madvise, name_to_handle_at/open_by_handle_at, kexec_load, init_module, iopl, swapoff, acct, and the same getpid through int 0x80 (i386 ABI) and the x32 bit.
# CLASS:   kernel attack surface / seccomp architecture checks
# EXPECT T1 (bwrap + seccomp): every tripwire probe dies SIG 31; int 0x80 and x32 calls are a foreign architecture -> killed -> BLOCKED.
# EXPECT T0 (env scrub + rlimits + workdir + timeout only): no seccomp: perf_event_open on itself and ia32 syscalls work (perf_event_paranoid=2, IA32 emulation on) -> EXPOSED (inherent Tier-0 gap); privileged calls EPERM.
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
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def sc(nr, *args):
    """Raw syscall; returns result or raises OSError(errno)."""
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
    if r == -1:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return r


def probe(label, fn):
    """Run fn in a forked child so a seccomp kill (SIGSYS) only ends the probe."""
    rfd, wfd = os.pipe()
    attempt(label)
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        try:
            msg = f"OK {fn()}"
        except OSError as e:
            msg = f"ERR {e.errno} {e.strerror}"
        except Exception as e:  # noqa: BLE001
            msg = f"EXC {e!r}"
        os.write(wfd, msg.encode()[:400])
        os._exit(0)
    os.close(wfd)
    out = os.read(rfd, 500).decode(errors="replace")
    os.close(rfd)
    _, st = os.waitpid(pid, 0)
    if os.WIFSIGNALED(st):
        out = f"SIG {os.WTERMSIG(st)}"
    print(f"  {label}: {out}", flush=True)
    return out

AT_FDCWD = -100
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]


def shell(code):
    mem = libc.mmap(None, 4096, 7, 0x22, -1, 0)
    if mem in (None, ctypes.c_void_p(-1).value):
        raise OSError(ctypes.get_errno(), "mmap rwx")
    ctypes.memmove(mem, code, len(code))
    r = ctypes.CFUNCTYPE(ctypes.c_int)(mem)()
    if r < 0:
        raise OSError(-r, os.strerror(-r))
    return r


def bpf_map():
    attr = (ctypes.c_uint32 * 32)(2, 4, 4, 1)
    return sc(321, 0, ctypes.addressof(attr), 128)


def perf_self():
    attr = (ctypes.c_uint8 * 128)()
    ctypes.memmove(attr, (ctypes.c_uint32 * 2)(1, 128), 8)  # type SOFTWARE, size
    flags = (ctypes.c_uint64 * 1)((1 << 5) | (1 << 6))     # exclude_kernel | exclude_hv
    ctypes.memmove(ctypes.addressof(attr) + 40, flags, 8)
    return sc(298, ctypes.addressof(attr), 0, -1, -1, 0)


def handle():
    fh = (ctypes.c_uint8 * 136)()
    ctypes.memmove(fh, (ctypes.c_uint32 * 1)(128), 4)
    mnt = ctypes.c_int()
    sc(303, AT_FDCWD, ctypes.addressof(ctypes.create_string_buffer(b"/usr")), ctypes.addressof(fh),
       ctypes.addressof(mnt), 0)
    return sc(304, AT_FDCWD, ctypes.addressof(fh), 0)


PPID = os.getppid()
probes = [
    ("bpf(BPF_MAP_CREATE)", bpf_map, "EXPOSED"),
    ("perf_event_open(self, sw)", perf_self, "EXPOSED"),
    ("userfaultfd(UFFD_USER_MODE_ONLY)", lambda: sc(323, 1), "EXPOSED"),
    ("pidfd_getfd(parent, 0)", lambda: sc(438, sc(434, PPID, 0), 0, 0), "ESCAPED"),
    ("process_madvise(parent)", lambda: sc(440, sc(434, PPID, 0), 0, 0, 0, 0), "ESCAPED"),
    ("open_by_handle_at(/usr)", handle, "ESCAPED"),
    ("kexec_load(0)", lambda: sc(246, 0, 0, 0, 0), "ESCAPED"),
    ("init_module(NULL)", lambda: sc(175, 0, 0, 0), "ESCAPED"),
    ("iopl(3)", lambda: sc(172, 3), "ESCAPED"),
    ("swapoff(/nonexistent)", lambda: sc(168, ctypes.addressof(ctypes.create_string_buffer(b"/nonexistent"))), "ESCAPED"),
    ("acct(NULL)", lambda: sc(163, 0), "ESCAPED"),
    ("int 0x80 getpid (i386 ABI)", lambda: shell(b"\xb8\x14\x00\x00\x00\xcd\x80\xc3"), "ARCH"),
    ("x32 getpid (nr | 0x40000000)", lambda: shell(b"\xb8\x27\x00\x00\x40\x0f\x05\xc3"), "ARCH"),
]
with open("/proc/self/status") as f:
    filtered = any(l.startswith("Seccomp:") and l.split()[1] == "2" for l in f)
esc, exposed = [], []
for label, fn, severity in probes:
    if probe(label, fn).startswith("OK"):
        if severity == "ESCAPED" or (severity == "ARCH" and filtered):
            esc.append(label)
        else:
            exposed.append(label)
if esc:
    result("ESCAPED", f"{esc}")
if exposed:
    result("EXPOSED", f"kernel surface reachable: {exposed}")
result("BLOCKED", "every probe refused or killed")
