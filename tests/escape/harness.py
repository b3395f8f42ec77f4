#!/usr/bin/env python3
"""Hostile-script battery for hero_logic (tests/escape).

Runs every hostile case (the shared sample in <repo>/../shared/escape and our own cases in
tests/escape/cases) under the `untrusted` (Tier 1) and/or `trusted` (Tier 0) profile, with the
canaries of shared/escape/README.md planted, and checks each case's verdict against its EXPECT
line plus the invariants I1-I7 after every case. Stdlib only; must run as root to exercise
per-run uids (it also works unprivileged, with weaker I4 attribution).

    python3 tests/escape/harness.py --tier untrusted [--tier trusted] [--case E14 --case x07]
        [--bin build/hero_logic] [--shared DIR] [--report-json FILE] [--keep-data]

Exit status: 0 when no case fails, 1 otherwise (an escape or any invariant violation), 2 on a
harness error. A per-case table (case, tier, verdict, status, reason, invariants) is printed.

Design:
  * A Runner (CliRunner now; DaemonRunner once `hero_logic serve` + `script_run` exist) starts
    runs and returns RunResult objects; everything else (canaries, invariants, verdicts) is
    runner-independent, so the same cases run both ways.
  * Cases are never edited on disk. Knobs a case reads from its environment (e.g.
    SBX_FLOOD_SECONDS) cannot travel through the scrubbed child environment, so the harness
    stages a copy with `os.environ.setdefault(...)` injected after the first import line.
  * Per-case settings (timeout, accepted statuses, documented Tier-0 gaps) come from a
    `# HARNESS:` header line (our cases) or SHARED_SETTINGS below (the shared sample, whose
    files we do not own).
"""
import argparse
import ctypes
import glob
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "daemon"))
from daemon_harness import Daemon, RpcError  # noqa: E402  (the daemon tests' harness)

VERDICTS = ("BLOCKED", "SURVIVED", "SENT", "EXPOSED", "ESCAPED", "SKIPPED")
PASSING_VERDICTS = {"BLOCKED", "SURVIVED", "SENT", "SKIPPED"}
TERMINAL = {"ok", "failed", "timed_out", "cancelled", "killed", "interrupted"}
EXIT_FOR_STATUS = {"ok": 0, "failed": 1, "timed_out": 124, "killed": 125, "interrupted": 125,
                   "cancelled": 130}
DOCUMENTED_EXIT_CODES = {0, 1, 2, 124, 125, 130}
TIERS = {"untrusted": "T1", "trusted": "T0"}
RUN_UID_BASE, RUN_UID_COUNT = 200000, 2000  # SupervisorConfig defaults (root supervisor)
RSS_LIMIT_KB = 200 * 1024                     # I1: supervisor peak RSS bound
CANARY_DEADLINE_S = 5.0                       # I2
ORPHAN_GRACE_S = 2.0                          # I4
NEIGHBOUR_LAG_LIMIT_S = 1.0                   # I7 ingest latency
HOST_TARGET_DIR = "/var/lib/sbx-target"       # planted for the link case (x01)
KILLED_REASON = re.compile(r"^(memory limit .+ exceeded|CPU limit .+ exceeded|file size limit .+ exceeded"
                           r"|process limit .+ reached|blocked syscall [a-z0-9_]+|output limit exceeded"
                           r"|killed by SIGKILL)")
BARE_REASON = re.compile(r"^(exit code|signal|terminated by) ?-?[0-9A-Za-z]*$")
DAEMON_HEALTHZ_LIMIT_S = 1.0   # I1 "event loop responsive" (daemon runner)
DAEMON_RSS_BACK_MB = 32        # I1 "memory back near its baseline" (daemon runner)
DAEMON_TRIM_WAIT_S = 8         # ... within this long (the daemon's memory trimmer runs every 5 s)
CRASH_MARKERS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer", "runtime error:",
                 "Segmentation fault", "terminate called", "Assertion", "core dumped",
                 "loop closed with handles open", "double free", "stack smashing")

# Settings for the shared sample (shared/escape/*.py), keyed by the file's number prefix.
# Syntax as in a `# HARNESS:` line. Reasons for each entry are in docs/SECURITY.md.
SHARED_SETTINGS = {
    # T0 text says "counts that as ESCAPED (give T0 a private TMPDIR ...)": a fix, not a gap.
    "06": "verdict_t0=BLOCKED",
    "09": "timeout=20",
    # T0 text: "attach ... -> ESCAPED. Fix: PR_SET_DUMPABLE 0, distinct uid": must be BLOCKED.
    "15": "verdict_t0=BLOCKED",
    "18": "timeout=30",
    "33": "timeout=8 statuses=timed_out",
    "35": "timeout=20",
    "37": "timeout=8 statuses=timed_out",
    # 2 GiB of stdout: "keeps draining (ok) or kills the run (output limit)"; a wall-clock
    # stop is also a documented policy outcome.
    "41": "timeout=30 statuses=ok,killed,timed_out",
    "43": "timeout=10 statuses=ok",
    # RSS figures are the supervisor's exact peak (`run --stats`) over the warm-up canary run's.
    # EXPECT: "supervisor RSS delta < 2 MiB".
    "46": "timeout=30 rss_growth_mb=2",
    # EXPECT: "supervisor RSS bounded (< 64 MiB of buffered spans)".
    "51": "timeout=30 env=SBX_FLOOD_SECONDS=2 rss_growth_mb=64",
    # EXPECT: "its RSS grows < 16 MiB". SPEC: the supervisor stops reading at the call cap, so
    # a child that never reads its replies blocks itself until the timeout.
    "62": "timeout=10 statuses=ok,timed_out rss_growth_mb=16",
}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------
# Cases


class Case:
    def __init__(self, path, shared):
        self.path = path
        self.shared = shared
        self.stem = os.path.splitext(os.path.basename(path))[0]
        self.title = self.stem
        self.klass = ""
        self.expect = {}
        opts_text = ""
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.startswith("#"):
                    if line.strip():
                        break
                    continue
                m = re.match(r"#\s*CASE:\s*(.*)", line)
                if m:
                    self.title = m.group(1).strip()
                m = re.match(r"#\s*CLASS:\s*(.*)", line)
                if m:
                    self.klass = m.group(1).strip()
                m = re.match(r"#\s*EXPECT (T[01])[^:]*:\s*(.*)", line)
                if m:
                    self.expect[m.group(1)] = m.group(2).strip()
                m = re.match(r"#\s*HARNESS:\s*(.*)", line)
                if m:
                    opts_text += " " + m.group(1)
        self.cid = self.title.split()[0] if self.title and self.title.split()[0][:1] in "EX" else self.stem
        if shared:
            opts_text = SHARED_SETTINGS.get(self.stem.split("_")[0], "") + " " + opts_text
        self.opts = parse_opts(opts_text)

    @property
    def timeout(self):
        return float(self.opts.get("timeout", 10))

    def expected_verdict(self, tier):
        t = TIERS[tier]
        if ("verdict_" + t.lower()) in self.opts:
            return self.opts["verdict_" + t.lower()]
        text = self.expect.get(t, "")
        v = first_verdict(text)
        if v is None and t == "T0":
            v = first_verdict(self.expect.get("T1", ""))
        return v

    def gap_verdicts(self, tier):
        """Verdicts that are a documented, inherent gap of this tier (reported, not failed)."""
        if tier != "trusted":
            return set()
        if "gap_t0" in self.opts:
            return set(x for x in self.opts["gap_t0"].split(",") if x)
        v = self.expected_verdict(tier)
        return {v} if v in ("EXPOSED", "ESCAPED") else set()

    def allowed_statuses(self, tier):
        t = TIERS[tier]
        key = "statuses_" + t.lower()
        if key in self.opts:
            return set(self.opts[key].split(","))
        if "statuses" in self.opts:
            return set(self.opts["statuses"].split(","))
        text = self.expect.get(t, "")
        st = parse_statuses(text)
        if not st and t == "T0":
            st = parse_statuses(self.expect.get("T1", ""))
            text = self.expect.get("T1", "")
        if not st or first_verdict(text) in PASSING_VERDICTS:
            st.add("ok")
        return st


def parse_opts(text):
    opts = {"env": []}
    for tok in text.split():
        if "=" not in tok:
            continue
        k, v = tok.split("=", 1)
        if k == "env":
            opts["env"].append(v)
        else:
            opts[k] = v
    return opts


def first_verdict(text):
    part = text.split("->", 1)[1] if "->" in text else text
    m = re.search(r"\b(%s)\b" % "|".join(VERDICTS), part)
    return m.group(1) if m else None


def parse_statuses(text):
    st = set()
    for w in ("timed_out", "killed", "cancelled"):
        if re.search(r"\b%s\b" % w, text):
            st.add(w)
    if re.search(r"\b(run|status) ok\b", text):
        st.add("ok")
    if re.search(r"\bstatus failed\b", text):
        st.add("failed")
    return st


def discover_cases(shared_dir, own_dir):
    cases = []
    if shared_dir:
        for p in sorted(glob.glob(os.path.join(shared_dir, "[0-9]*.py"))):
            cases.append(Case(p, shared=True))
    for p in sorted(glob.glob(os.path.join(own_dir, "x[0-9]*.py"))):
        cases.append(Case(p, shared=False))
    return cases


def stage_source(case_path, env_pairs, stage_dir, name=None):
    """Copy a case into a world-readable staging dir, injecting env knobs after `import os`."""
    with open(case_path, encoding="utf-8") as f:
        src = f.read()
    if env_pairs:
        inject = "".join("os.environ.setdefault(%r, %r)  # injected by tests/escape/harness.py\n"
                         % tuple(p.split("=", 1)) for p in env_pairs)
        lines = src.splitlines(True)
        for i, line in enumerate(lines):
            if re.match(r"import os\b|import .*\bos\b", line):
                lines.insert(i + 1, inject)
                break
        else:
            lines.insert(0, "import os\n" + inject)
        src = "".join(lines)
    dst = os.path.join(stage_dir, name or os.path.basename(case_path))
    with open(dst, "w", encoding="utf-8") as f:
        f.write(src)
    os.chmod(dst, 0o644)
    return dst


# ------------------------------------------------------------------------------------------
# Canaries (shared/escape/README.md)


class Canaries:
    def __init__(self):
        tok = secrets.token_hex(8)
        self.env_secret = "sbx-canary-env-" + tok
        self.ssh_secret = "sbx-canary-ssh-" + secrets.token_hex(8)
        self.etc_secret = "sbx-canary-etc-" + secrets.token_hex(8)
        self.sock_secret = "sbx-canary-sock-" + secrets.token_hex(8)
        self.secrets = [self.env_secret, self.ssh_secret, self.etc_secret, self.sock_secret]
        self.connections = []  # (listener, peer, time)
        self.listeners = []
        self.notes = []
        self._undo = []
        self._stop = False
        self._lock = threading.Lock()

    # Any secret value, or any sbx-canary-<kind>-<hex> token (an earlier harness run's canary).
    def leak_in(self, text):
        if not text:
            return None
        for s in self.secrets:
            if s in text:
                return s
        m = re.search(r"sbx-canary-(env|ssh|etc|sock)-[0-9a-f]{16}", text)
        return m.group(0) if m else None

    def plant(self):
        os.environ["SUPERVISOR_CANARY"] = self.env_secret
        home = os.path.expanduser("~")
        ssh = os.path.join(home, ".ssh")
        key = os.path.join(ssh, "id_sbx_canary")
        if not os.path.isdir(ssh):
            os.makedirs(ssh, 0o700)
            self._undo.append(lambda: shutil.rmtree(ssh, ignore_errors=True))
        backup = None
        if os.path.exists(key):
            with open(key, "rb") as f:
                backup = f.read()
        self._write_secret(key, self.ssh_secret, 0o600, backup)
        # Not in the README, but E01 probes it: a root-only file under /etc.
        etc = "/etc/sbx-canary"
        if os.geteuid() == 0:
            backup = open(etc, "rb").read() if os.path.exists(etc) else None
            self._write_secret(etc, self.etc_secret, 0o600, backup)
        # Host target for the link cases: a root-owned directory the runs can see but not
        # change; after every case it must still be there, unchanged.
        if os.geteuid() == 0:
            os.makedirs(HOST_TARGET_DIR, 0o755, exist_ok=True)
            os.chmod(HOST_TARGET_DIR, 0o755)
            with open(os.path.join(HOST_TARGET_DIR, "keep.txt"), "w") as f:
                f.write("sbx-target keep\n")
            os.chmod(os.path.join(HOST_TARGET_DIR, "keep.txt"), 0o644)
            self._undo.append(lambda: shutil.rmtree(HOST_TARGET_DIR, ignore_errors=True))
        self._listen("abstract @sbx-canary-abstract", socket.AF_UNIX, "\0sbx-canary-abstract")
        path = "/tmp/sbx-canary.sock"
        if os.path.exists(path):
            try:
                os.unlink(path)
            except OSError:
                pass
        if self._listen("path /tmp/sbx-canary.sock", socket.AF_UNIX, path):
            os.chmod(path, 0o777)
            self._undo.append(lambda: os.path.exists(path) and os.unlink(path))
        self._listen("tcp 127.0.0.1:47001", socket.AF_INET, ("127.0.0.1", 47001))

    def _write_secret(self, path, secret, mode, backup):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        os.write(fd, (secret + "\n").encode())
        os.close(fd)
        os.chmod(path, mode)

        def undo():
            if backup is None:
                try:
                    os.unlink(path)
                except OSError:
                    pass
            else:
                with open(path, "wb") as f:
                    f.write(backup)
        self._undo.append(undo)

    def _listen(self, label, family, addr):
        s = socket.socket(family, socket.SOCK_STREAM)
        if family == socket.AF_INET:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
            s.listen(64)
        except OSError as e:
            self.notes.append(f"canary listener {label} unavailable: {e}")
            s.close()
            return False
        s.settimeout(0.2)
        self.listeners.append(s)
        t = threading.Thread(target=self._accept, args=(label, s), daemon=True)
        t.start()
        return True

    def _accept(self, label, s):
        while not self._stop:
            try:
                c, peer = s.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self.connections.append((label, str(peer), time.time()))
            try:
                c.sendall((self.sock_secret + "\n").encode())
                c.close()
            except OSError:
                pass

    def connections_since(self, t0):
        with self._lock:
            return [c for c in self.connections if c[2] >= t0]

    def remove(self):
        self._stop = True
        for s in self.listeners:
            try:
                s.close()
            except OSError:
                pass
        for undo in reversed(self._undo):
            try:
                undo()
            except OSError:
                pass
        self._undo = []
        os.environ.pop("SUPERVISOR_CANARY", None)


# ------------------------------------------------------------------------------------------
# Process table helpers (I4)


def proc_info(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            st = f.read()
    except OSError:
        return None
    d = {}
    for line in st.splitlines():
        k, _, v = line.partition(":")
        d[k] = v.strip()
    try:
        return {"pid": pid, "ppid": int(d.get("PPid", "0")), "uid": int(d.get("Uid", "0").split()[0]),
                "state": d.get("State", "?")[:1], "name": d.get("Name", "?")}
    except ValueError:
        return None


def process_table():
    out = {}
    for n in os.listdir("/proc"):
        if n.isdigit():
            i = proc_info(int(n))
            if i:
                out[i["pid"]] = i
    return out


def proc_status_kb(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def vm_hwm_kb(pid):
    return proc_status_kb(pid, "VmHWM")


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def set_subreaper():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_CHILD_SUBREAPER = 36
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except OSError:
        return False


# ------------------------------------------------------------------------------------------
# Runners


class RunResult:
    """One finished run, whatever started it."""

    def __init__(self):
        self.doc = None          # {"run": ..., "tree": ...}
        self.rc = None           # exit code of the one-shot supervisor (CLI) or None
        self.stdout = ""
        self.stderr = ""
        self.elapsed = 0.0
        self.peak_rss_kb = None  # the supervisor's own peak RSS (VmHWM), not its children's
        self.hung = False
        self.error = None
        self.supervisor_pid = None

    @property
    def run(self):
        return (self.doc or {}).get("run") or {}

    @property
    def tree(self):
        return (self.doc or {}).get("tree") or {}


class Runner:
    """Starts runs. Subclasses: CliRunner (one `hero_logic run` process per run) and, later,
    DaemonRunner (`hero_logic serve` + `script_run` over JSON-RPC)."""
    name = "abstract"

    def start(self, script, profile, timeout, input_json="{}", agent=False):
        """agent: a hostile case, which the daemon runner submits the agent's way."""
        raise NotImplementedError

    def show(self, run_id):
        raise NotImplementedError

    def db_path(self):
        raise NotImplementedError

    def supervisor_pids(self):
        """Pids of the supervisor process(es) that must survive every case (I1)."""
        return []


class CliHandle:
    def __init__(self, runner, proc, t0, timeout):
        self.runner = runner
        self.proc = proc
        self.t0 = t0
        self.timeout = timeout
        self.peak = 0
        self._out = []
        self._err = []
        self._threads = [threading.Thread(target=self._drain, args=(proc.stdout, self._out), daemon=True),
                         threading.Thread(target=self._drain, args=(proc.stderr, self._err), daemon=True)]
        for t in self._threads:
            t.start()

    @staticmethod
    def _drain(f, acc):
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            acc.append(b)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def poll_rss(self):
        v = vm_hwm_kb(self.proc.pid)
        if v:
            self.peak = max(self.peak, v)

    def cancel(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)

    def wait(self, bound):
        r = RunResult()
        r.supervisor_pid = self.proc.pid
        deadline = self.t0 + bound
        while self.proc.poll() is None:
            self.poll_rss()
            if time.time() > deadline:
                r.hung = True
                self.proc.kill()
                self.proc.wait()
                break
            time.sleep(0.05)
        r.elapsed = time.time() - self.t0
        r.rc = self.proc.returncode
        for t in self._threads:
            t.join(10)
        r.stdout = b"".join(self._out).decode("utf-8", "replace")
        r.stderr = b"".join(self._err).decode("utf-8", "replace")
        # Exact peak RSS of the supervisor process itself (`run --stats`: getrusage RUSAGE_SELF,
        # taken before anything renders the document); sampled VmHWM only as a fallback (a
        # 50 ms sampler misses most of a 30 ms canary run, which made the baseline too low).
        m = re.search(r"^supervisor: peak RSS (\d+) KiB", r.stderr, re.M)
        r.peak_rss_kb = int(m.group(1)) if m else (self.peak or None)
        # The supervisor ran without --json (rendering a 10^5-span tree into one document is
        # the client's cost, not the supervisor's, so I1 must not count it): read the run back
        # with a separate `hero_logic show RUN --json` process.
        m = re.search(r"^run (\d+) ", r.stdout, re.M) or re.search(r"^run (\d+) ", r.stderr, re.M)
        if not m:
            r.error = "no run summary line on stdout"
            return r
        rc, out, err = self.runner.show(int(m.group(1)))
        try:
            r.doc = json.loads(out) if rc == 0 and out.strip() else None
            if r.doc is None:
                r.error = f"show {m.group(1)} failed: {err.strip()[:200]}"
        except ValueError as e:
            r.error = f"show output is not one JSON document: {e}"
        return r


class CliRunner(Runner):
    name = "cli"

    def __init__(self, binary, data_dir):
        self.binary = binary
        self.data = data_dir

    def env(self):
        e = dict(os.environ)
        e["HERO_LOGIC_DATA"] = self.data
        e["NO_COLOR"] = "1"
        return e

    def start(self, script, profile, timeout, input_json="{}", agent=False):
        argv = [self.binary, "run", script, "--profile", profile, "--timeout", str(timeout),
                "--quiet", "--stats", "--input", input_json]
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=self.env())
        return CliHandle(self, proc, time.time(), timeout)

    def show(self, run_id):
        for attempt in range(3):  # another writer may hold the SQLite lock for a moment
            p = subprocess.run([self.binary, "show", str(run_id), "--json"], capture_output=True,
                               env=self.env(), timeout=120)
            if p.returncode == 0:
                break
            time.sleep(0.3)
        return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")

    def db_path(self):
        return os.path.join(self.data, "hero_logic.db")

    def sibling(self, name):
        return CliRunner(self.binary, self.data + "-" + name)


class DaemonHandle:
    """A run on the daemon. Untrusted cases go through `script_run` (the agent's call, SHARED
    README procedure) on a thread, everything else through `play_run_async`."""

    def __init__(self, runner, t0, timeout, run_id=None, sync=None):
        self.runner = runner
        self.t0 = t0
        self.timeout = timeout
        self.run_id = run_id
        self.error = None
        self._thread = None
        if sync is not None:
            self._thread = threading.Thread(target=self._sync, args=(sync,), daemon=True)
            self._thread.start()

    def _sync(self, params):
        try:
            self.run_id = self.runner.call("script_run", _timeout=self.timeout + 60, **params)["run_id"]
        except Exception as e:  # noqa: BLE001 - reported as the run's error
            self.error = f"script_run failed: {e}"

    pid = None  # runs are children of the daemon: I4 attributes processes by run uid

    def alive(self):
        if self._thread is not None:
            return self._thread.is_alive()
        try:
            return self.runner.call("play_status", run_id=self.run_id)["status"] in ("queued", "running")
        except Exception:  # noqa: BLE001
            return False

    def cancel(self):
        if self.run_id is None and self._thread is not None:
            time.sleep(0.5)  # script_run answers with the id only at the end
        if self.run_id is not None:
            try:
                self.runner.call("play_cancel", run_id=self.run_id)
            except RpcError:
                pass  # already ended

    def wait(self, bound):
        r = RunResult()
        r.supervisor_pid = self.runner.proc.pid
        deadline = self.t0 + bound
        if self._thread is not None:
            self._thread.join(max(0.0, deadline - time.time()))
            r.hung = self._thread.is_alive()
        while self.run_id is not None and not r.hung:
            left = deadline - time.time()
            if left <= 0:
                r.hung = True
                break
            try:
                st = self.runner.call("play_wait", _timeout=left + 30, run_id=self.run_id,
                                      timeout_ms=int(min(left, 5) * 1000))
                if st.get("status") not in ("queued", "running"):
                    break
            except (RpcError, OSError) as e:
                r.error = f"play_wait: {e}"
                break
        r.elapsed = time.time() - self.t0
        # The daemon's peak for this run, read before the harness asks for the whole tree
        # (rendering a 10^5-span tree for a client is that client's request, not the run's).
        r.peak_rss_kb = vm_hwm_kb(self.runner.proc.pid)
        if r.hung:
            self.cancel()
        if self.error:
            r.error = self.error
        if self.run_id is not None:
            rc, out, err = self.runner.show(self.run_id)
            r.doc = json.loads(out) if rc == 0 else None
            if r.doc is None:
                r.error = r.error or f"show {self.run_id} failed: {err}"
        elif not r.error:
            r.error = "the daemon never returned a run id"
        return r


class DaemonRunner(Runner):
    """One `hero_logic serve` for the whole battery (warm pool on, as deployed); runs arrive as
    JSON-RPC calls. I1 becomes: the daemon still runs, its peak RSS during the case (VmHWM,
    reset through /proc/PID/clear_refs before the case) stays within the EXPECT growth, its
    RSS and fd count come back near their baseline, and /healthz answers promptly. Start,
    stop and JSON-RPC are the daemon tests' harness (tests/daemon/daemon_harness.py)."""
    name = "daemon"

    def __init__(self, binary, data_dir, serve_args=()):
        self.data = data_dir
        flows = os.path.join(data_dir, "no_builtin_flows")
        os.makedirs(flows, exist_ok=True)
        self.daemon = Daemon(data_dir, "--concurrency", "64", *serve_args, flows_dir=flows,
                             binary=binary)
        self.proc = self.daemon.proc
        self.log_path = os.path.join(data_dir, "daemon.stderr")
        self._log_offset = 0

    def log_tail(self, since=0):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(since)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def new_log(self):
        """The daemon's stderr since the last call (checked for crash markers per case)."""
        text = self.log_tail(self._log_offset)
        self._log_offset += len(text.encode("utf-8", "replace"))
        return text

    def http(self, method, path, body=None, timeout=60):
        return self.daemon.http(method, path, body, timeout=timeout)

    def call(self, method, _timeout=60, **params):
        return self.daemon.call(method, _timeout=_timeout, **params)

    def start(self, script, profile, timeout, input_json="{}", agent=False):
        with open(script) as f:
            source = f.read()
        params = {"source": source, "input": json.loads(input_json), "timeout_ms": int(timeout * 1000)}
        t0 = time.time()
        if agent and profile == "untrusted":
            return DaemonHandle(self, t0, timeout, sync=params)  # a case: the agent's call
        run_id = self.call("play_run_async", profile=profile, **params)["run_id"]
        return DaemonHandle(self, t0, timeout, run_id=run_id)

    def show(self, run_id):
        try:
            doc = {"run": self.call("play_status", run_id=run_id),
                   "tree": self.call("play_spans", _timeout=120, run_id=run_id)}
            return 0, json.dumps(doc), ""
        except (RpcError, OSError, ValueError) as e:
            return 1, "", str(e)

    def db_path(self):
        return os.path.join(self.data, "hero_logic.db")

    def supervisor_pids(self):
        return [self.proc.pid]

    # --- I1 probes ---
    def reset_peak(self):
        try:
            with open(f"/proc/{self.proc.pid}/clear_refs", "w") as f:
                f.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
            return True
        except OSError:
            return False

    def healthz_s(self):
        t = time.time()
        try:
            status, body = self.http("GET", "/healthz", timeout=10)
            return time.time() - t if status == 200 else None, json.loads(body)
        except (OSError, ValueError):
            return None, None

    def settle(self, bound=10):
        """Waits until the warm pool is full again (no pre-start in flight), so fd and RSS
        figures compare like with like. Returns the pool stats."""
        deadline = time.time() + bound
        pool = {}
        while time.time() < deadline:
            _, h = self.healthz_s()
            pool = ((h or {}).get("backend") or {}).get("pool") or {}
            if not pool or (pool.get("starting", 0) == 0 and pool.get("idle", 0) >= pool.get("size", 0)
                            * max(1, pool.get("pools", 0))):
                break
            time.sleep(0.1)
        return pool

    def stop(self):
        try:
            return self.daemon.stop(timeout=60)
        except subprocess.TimeoutExpired:
            self.daemon.kill9()
            return self.proc.returncode


# ------------------------------------------------------------------------------------------
# Store access (read-only; the CLI writes concurrently, WAL mode)


class Db:
    def __init__(self, path):
        self.path = path

    def _conn(self):
        c = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10)
        c.row_factory = sqlite3.Row
        return c

    def query(self, sql, args=()):
        for attempt in range(5):
            try:
                c = self._conn()
                try:
                    return [dict(r) for r in c.execute(sql, args)]
                finally:
                    c.close()
            except sqlite3.OperationalError:
                if attempt == 4:
                    raise
                time.sleep(0.1)
        return []

    def run_row(self, run_id):
        rows = self.query("SELECT * FROM runs WHERE id=?", (run_id,))
        return rows[0] if rows else None

    def running_run_by_flow(self, flow):
        rows = self.query("SELECT id, status FROM runs WHERE flow_name=? ORDER BY id DESC LIMIT 1", (flow,))
        return rows[0] if rows else None

    def span_stats(self, run_id):
        rows = self.query("SELECT count(*) AS n, max(start_us) AS last FROM spans WHERE run_id=?", (run_id,))
        return rows[0] if rows else {"n": 0, "last": None}


# ------------------------------------------------------------------------------------------
# Helpers over run documents


def walk(node):
    if not node:
        return
    yield node
    for c in node.get("children") or []:
        yield from walk(c)


def stdout_lines(res):
    logs = []
    for n in walk(res.tree):
        for l in n.get("logs") or []:
            if l.get("stream") == "stdout":
                logs.append((l.get("ts_us") or 0, l.get("text") or ""))
    logs.sort(key=lambda x: x[0])
    return "".join(t for _, t in logs).splitlines()


def find_verdict(res):
    for source in (stdout_lines(res), (res.run.get("stdout_tail") or "").splitlines()):
        for line in reversed(source):
            m = re.match(r"RESULT:\s*([A-Z]+)\s*(.*)", line.strip())
            if m and m.group(1) in VERDICTS:
                return m.group(1), m.group(2).strip()
    return None, ""


def last_attempt(res):
    lines = stdout_lines(res) + (res.run.get("stdout_tail") or "").splitlines()
    for line in reversed(lines):
        if line.startswith("ATTEMPT:"):
            return line
    return ""


def sha_file(path):
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError as e:
        return f"unreadable: {e.strerror}"


def snapshot_tree(root):
    """(path, size, mtime, mode) for everything under root: detects SDK/runtime poisoning."""
    out = []
    for dirpath, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(dirpath, n)
            try:
                st = os.lstat(p)
                out.append((p, st.st_size, st.st_mtime_ns, st.st_mode))
            except OSError:
                pass
    return sorted(out)


def find_markers(roots, prune):
    cmd = ["find"] + roots + ["-xdev", "("]
    for i, p in enumerate(prune):
        cmd += (["-o"] if i else []) + ["-path", p]
    cmd += [")", "-prune", "-o", "-name", "sbx-escape-*", "-print"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    return set(l for l in p.stdout.splitlines() if l)


# ------------------------------------------------------------------------------------------
# The battery


class Outcome:
    def __init__(self, case, tier):
        self.case = case
        self.tier = tier
        self.verdict = None
        self.verdict_msg = ""
        self.status = None
        self.reason = ""
        self.fail = []      # (invariant, message): the case fails
        self.notes = []     # informational
        self.gap = False    # a documented Tier-0 gap
        self.inv = {k: "ok" for k in ("V", "I1", "I2", "I3", "I4", "I5", "I6", "I7")}
        self.elapsed = 0.0
        self.rss_kb = None
        self.rss_growth_mb = None
        self.neighbour_lag = None
        self.run_id = None
        self.daemon = None  # DaemonRunner: the daemon's fds/RSS/healthz after the case

    def bad(self, inv, msg):
        self.fail.append((inv, msg))
        self.inv[inv] = "FAIL"

    def note(self, msg):
        self.notes.append(msg)

    @property
    def passed(self):
        return not self.fail


NEIGHBOUR_SRC = '''\
# I7 neighbour: one span every 0.1 s until cancelled; SIGTERM ends it cleanly (flushes spans).
import signal, sys, time
from hero_tracing import flow
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
for i in range(100000):
    with flow.step("tick-%d" % i):
        pass
    time.sleep(0.1)
'''

CANARY_SRC = 'print("ok")\n'

# I7 ingest latency, measured per span: the time a neighbour span first becomes visible in the
# store minus its start timestamp (the SDK sends span_start when the step begins, and the
# supervisor stores the row from it). A child that is merely scheduled late emits its spans late
# but they are not ingested late, so this does not count the neighbour's own CPU share. Runs as
# its own process; argv: DB RUN_ID; stops at stdin EOF and prints a JSON list of lags (s).
NEIGHBOUR_WATCHER_SRC = '''
import json, sqlite3, sys, threading, time
db, run_id = sys.argv[1], int(sys.argv[2])
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
lags, last_seq, first = [], -1, True
while not stop.is_set():
    try:
        c = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
        rows = c.execute("SELECT seq, start_us FROM spans WHERE run_id=? AND seq>? ORDER BY seq",
                         (run_id, last_seq)).fetchall()
        seen = time.time()
        c.close()
    except sqlite3.Error:
        rows = []
    for seq, start_us in rows:
        if not first:  # the first batch was stored before the watcher started
            lags.append(round(seen - start_us / 1e6, 4))
        last_seq = seq
    first = first and not rows
    stop.wait(0.05)
print(json.dumps(lags))
'''


class Battery:
    def __init__(self, runner, canaries, stage_dir, args):
        self.runner = runner
        self.canaries = canaries
        self.stage = stage_dir
        self.args = args
        self.db = Db(runner.db_path())
        # The I7 neighbour is a separate one-shot supervisor with its own store: with the CLI
        # runner two supervisors writing one SQLite file would measure SQLite's writer lock
        # (a flooding run's back-to-back commits starve the other's), not the supervisor.
        self.nb_runner = runner.sibling("neighbour") if hasattr(runner, "sibling") else runner
        self.nb_db = Db(self.nb_runner.db_path())
        self.me = os.getpid()
        self.root = os.geteuid() == 0
        self.canary_script = self._write("canary_ok.py", CANARY_SRC)
        self.baseline_markers = None
        self.passwd_sha = sha_file("/etc/passwd")
        self.runtime_snap = {}
        self.prune = ["/proc", "/sys"]
        self.outcomes = []
        self.rss_baseline = None
        self.daemon_fds = None  # DaemonRunner: taken after the warm-up, pool full
        self.daemon_rss = None

    def _write(self, name, text):
        p = os.path.join(self.stage, name)
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, 0o644)
        return p

    # -- host state --------------------------------------------------------------------
    def marker_roots(self):
        # Everything a run uid can write to on this host: the world-writable directories plus
        # the hero_logic trees. A full `find / -xdev` runs once per tier (full_marker_scan).
        roots = ["/tmp", "/var/tmp", "/dev/shm", "/run", "/var/lib/hero_logic", self.runner.data,
                 os.path.expanduser("~/.ssh"), "/home", "/etc", "/usr/local", HERE]
        return [r for r in dict.fromkeys(roots) if os.path.isdir(r)]

    def other_work_roots(self, own_workdir):
        """Workdirs of other hero_logic supervisors on this shared machine are not ours."""
        own_root = os.path.dirname(own_workdir.rstrip("/")) if own_workdir else ""
        out = []
        for d in glob.glob("/var/lib/hero_logic/work/*"):
            if d != own_root:
                out.append(d)
        return out

    def snapshot_runtime(self):
        snap = {}
        for d in glob.glob("/run/hero_logic/rt-*") + glob.glob(os.path.join(self.runner.data, "runtime", "rt-*")):
            snap[d] = snapshot_tree(d)
        return snap

    def run_processes(self, exclude_roots, run_uid=None):
        """Processes of run uids that belong to this battery's case (not to its neighbour or
        partner runs, not to other supervisors on the machine). With the daemon every run is
        its child, so a case's processes are those of the run's own uid (`uid` of its record)."""
        table = process_table()
        mine = []
        for p in table.values():
            in_range = RUN_UID_BASE <= p["uid"] < RUN_UID_BASE + RUN_UID_COUNT if self.root else p["uid"] == os.getuid()
            if not in_range or (run_uid and p["uid"] != run_uid):
                continue
            chain, cur, seen = [], p["pid"], set()
            owner = None
            while cur and cur not in seen:
                seen.add(cur)
                if cur in exclude_roots:
                    owner = "other"
                    break
                if cur == self.me:
                    owner = "mine"
                    break
                nxt = table.get(cur)
                if not nxt:
                    break
                chain.append(cur)
                cur = nxt["ppid"]
            if owner == "mine":
                mine.append(p)
        return mine

    def reap_adopted(self):
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return

    # -- neighbour (I7) ----------------------------------------------------------------
    def start_neighbour(self, profile, tag):
        name = f"nb_{tag}"
        script = self._write(name + ".py", NEIGHBOUR_SRC)
        h = self.nb_runner.start(script, profile, 300)
        deadline = time.time() + 10
        run_id = getattr(h, "run_id", None)
        while time.time() < deadline:
            if run_id is None:
                row = self.nb_db.running_run_by_flow(name) if os.path.exists(self.nb_db.path) else None
                if row and row["status"] == "running":
                    run_id = row["id"]
            if run_id is not None and self.nb_db.span_stats(run_id)["n"] >= 1:
                break
            if not h.alive():
                break
            time.sleep(0.05)
        return {"handle": h, "name": name, "run_id": run_id, "t0": time.time(), "lags": []}

    def watch_neighbour(self, nb):
        """Starts the I7 ingest-latency watcher for the neighbour run: a separate Python process
        (NEIGHBOUR_WATCHER_SRC), so that the harness's own work during a case (parsing a
        10^5-span run document holds the GIL for seconds) cannot delay its samples."""
        if not nb["run_id"]:
            return None
        return subprocess.Popen([sys.executable, "-c", NEIGHBOUR_WATCHER_SRC, self.nb_db.path,
                                 str(nb["run_id"])], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)

    @staticmethod
    def stop_watcher(proc):
        if proc is None:
            return []
        try:
            out, _ = proc.communicate(input="", timeout=30)
            return [float(x) for x in json.loads(out or "[]")]
        except (subprocess.TimeoutExpired, ValueError):
            proc.kill()
            proc.wait()
            return []

    def finish_neighbour(self, nb, out, case=None):
        nb["lags"] = self.stop_watcher(nb.get("watcher"))
        h = nb["handle"]
        alive = h.alive()
        elapsed = time.time() - nb["t0"]
        h.cancel()
        res = h.wait(30)
        if not nb["run_id"]:
            out.bad("I7", "neighbour run never started")
            return
        if not alive:
            out.bad("I7", f"neighbour run ended during the case: {res.run.get('status')} "
                          f"'{res.run.get('reason')}'")
        elif res.run.get("status") != "cancelled":
            out.bad("I7", f"neighbour run ended {res.run.get('status')} '{res.run.get('reason')}' "
                          "(expected cancelled by the harness)")
        ticks = sorted(int(n["name"][5:]) for n in walk(res.tree) if str(n.get("name", "")).startswith("tick-"))
        db_n = self.nb_db.span_stats(nb["run_id"])["n"]
        if ticks and ticks != list(range(ticks[-1] + 1)):
            missing = sorted(set(range(ticks[-1] + 1)) - set(ticks))
            out.bad("I7", f"neighbour lost spans: missing ticks {missing[:10]}")
        if db_n != res.run.get("span_count"):
            out.bad("I7", f"neighbour span_count {res.run.get('span_count')} != {db_n} stored rows")
        if alive and len(ticks) < 0.3 * 10 * elapsed - 2:
            out.note(f"neighbour slowed: {len(ticks)} spans in {elapsed:.1f} s")
        lags = nb["lags"]
        if lags:
            out.neighbour_lag = max(lags)
            if out.neighbour_lag > NEIGHBOUR_LAG_LIMIT_S and alive:
                worst = sorted(lags)[-3:]
                out.bad("I7", f"neighbour ingest latency {out.neighbour_lag:.2f} s > "
                              f"{NEIGHBOUR_LAG_LIMIT_S:g} s (worst {worst}, {len(lags)} spans)")

    # -- one case ----------------------------------------------------------------------
    def run_case(self, case, tier):
        out = Outcome(case, tier)
        tag = f"{case.stem.split('_')[0]}_{TIERS[tier]}_{secrets.token_hex(3)}"
        script = stage_source(case.path, case.opts.get("env"), self.stage,
                              name=f"{case.stem}.py")
        if self.baseline_markers is None:
            self.baseline_markers = find_markers(self.marker_roots(), self.prune)
        runtime_before = self.snapshot_runtime()
        partner = None
        if case.opts.get("partner"):
            ppath = os.path.join(os.path.dirname(case.path), case.opts["partner"])
            pscript = stage_source(ppath, [], self.stage)
            partner = self.runner.start(pscript, tier, 30)
            self._wait_partner_ready(os.path.splitext(os.path.basename(pscript))[0],
                                     getattr(partner, "run_id", None))

        nb = self.start_neighbour(tier, tag)
        nb["watcher"] = self.watch_neighbour(nb)

        daemon = isinstance(self.runner, DaemonRunner)
        if daemon:  # I1 baseline: the daemon at rest, its peak reset to now
            self.runner.new_log()
            d_rss0 = proc_status_kb(self.runner.proc.pid, "VmRSS")
            peak_ok = self.runner.reset_peak()
        t_case = time.time()
        h = self.runner.start(script, tier, case.timeout, agent=True)
        bound = case.timeout + 2 + 1 + 10 + float(case.opts.get("slack", 0))
        res = h.wait(bound)
        if daemon:
            res.peak_rss_kb = res.peak_rss_kb if peak_ok else None
            res.stderr = self.runner.new_log()
            res.rc = 0 if self.runner.proc.poll() is None else self.runner.proc.returncode
            self.rss_baseline = d_rss0
        out.elapsed = res.elapsed
        out.rss_kb = res.peak_rss_kb
        t_end = time.time()
        run = res.run
        out.status = run.get("status")
        out.reason = run.get("reason", "")
        out.run_id = run.get("id")
        exclude = {nb["handle"].pid} - {None}
        if partner and partner.pid:
            exclude.add(partner.pid)
        run_uid = run.get("uid") if daemon else None

        # ---- verdict ----
        out.verdict, out.verdict_msg = find_verdict(res) if res.doc else (None, "")
        self.check_verdict(case, tier, out)

        # ---- I1: the one-shot supervisor exits by itself, documented code, no crash, bounded RSS
        # (daemon: it still runs and the run ended within the bound; see check_daemon below)
        if res.hung:
            out.bad("I1", f"supervisor did not end the run within {bound:.0f} s (killed by the harness)")
        if daemon:
            if res.rc != 0:
                out.bad("I1", f"the daemon exited ({res.rc}) during the case")
        elif res.rc not in DOCUMENTED_EXIT_CODES:
            out.bad("I1", f"undocumented exit code {res.rc}")
        elif out.status in EXIT_FOR_STATUS and res.rc != EXIT_FOR_STATUS[out.status]:
            out.bad("I1", f"exit code {res.rc} does not match status {out.status}")
        for m in CRASH_MARKERS:
            if m in res.stderr:
                out.bad("I1", f"stderr shows '{m}'")
        if res.error:
            out.bad("I1", res.error)
        if res.peak_rss_kb and res.peak_rss_kb - (self.rss_baseline if daemon else 0) > RSS_LIMIT_KB:
            out.bad("I1", f"supervisor peak RSS {res.peak_rss_kb // 1024} MiB > {RSS_LIMIT_KB // 1024} MiB")
        growth = ((res.peak_rss_kb - self.rss_baseline) / 1024
                  if self.rss_baseline and res.peak_rss_kb else None)
        out.rss_growth_mb = growth
        if growth is not None and "rss_growth_mb" in case.opts and growth >= float(case.opts["rss_growth_mb"]):
            out.bad("I1", f"supervisor peak RSS grew {growth:.1f} MiB over {self.baseline_name()} "
                          f"(the case's EXPECT line allows < {case.opts['rss_growth_mb']} MiB)")
        elif growth is not None and growth > 64:
            out.note(f"supervisor peak RSS grew {growth:.1f} MiB over {self.baseline_name()}")

        # ---- I4: nothing of the run alive 2 s after the terminal status; no zombies ----
        if daemon and not run_uid and self.root and res.doc:
            out.bad("I4", "the run record names no run uid: its processes cannot be attributed")
        left = self.run_processes(exclude, run_uid)
        deadline = t_end + ORPHAN_GRACE_S
        while left and time.time() < deadline:
            time.sleep(0.1)
            left = [p for p in self.run_processes(exclude, run_uid) if p["state"] != "Z"]
        zombies = [p for p in self.run_processes(exclude, run_uid) if p["state"] == "Z"]
        # The one-shot CLI exits without reaping its last kill-sweep helper (hero_launcher
        # --kill-uid, running as the run uid); being the subreaper, the harness adopts it.
        # That is an artifact of the harness, not a zombie the supervisor keeps: note it only.
        # Likewise bwrap's pid-1 init may still be exiting when the CLI exits. Dead, unreaped
        # processes adopted by the harness are noted; a zombie under any other parent fails.
        adopted = [p for p in zombies if p["ppid"] == self.me]
        if adopted:
            names = sorted(set(p["name"] for p in adopted))
            out.note(f"{len(adopted)} dead process(es) {names} of the run outlived the one-shot supervisor "
                     "(adopted and reaped by the harness)")
        zombies = [p for p in zombies if p not in adopted]
        if left:
            out.bad("I4", "alive 2 s after the run ended: " +
                    ", ".join(f"{p['pid']}({p['name']},uid {p['uid']},{p['state']})" for p in left[:6]))
            for p in left:
                try:
                    os.kill(p["pid"], signal.SIGKILL)
                except OSError:
                    pass
        if zombies:
            out.bad("I4", "zombies: " + ", ".join(f"{p['pid']}({p['name']})" for p in zombies[:6]))
        self.reap_adopted()

        # ---- I3 + I5 + I6 need the stored rows ----
        row = self.db.run_row(out.run_id) if out.run_id else None
        self.check_terminal(case, tier, res, row, out)
        self.check_host(case, res, row, out, runtime_before)
        self.check_leaks(res, row, out)

        # ---- canary listeners: any accepted connection is an escape ----
        conns = self.canaries.connections_since(t_case)
        if conns:
            msg = "canary listener accepted: " + ", ".join(f"{c[0]}" for c in conns)
            if "ESCAPED" in case.gap_verdicts(tier):
                out.gap = True
                out.note(msg + " (documented Tier-0 gap)")
            else:
                out.bad("V", msg)

        # ---- I2: a canary run right after the case ----
        self.check_canary(tier, out)

        # ---- I7: the neighbour ----
        self.finish_neighbour(nb, out, case)
        if partner:
            partner.cancel()
            partner.wait(30)
        self.reap_adopted()
        if daemon:
            self.check_daemon(out)
        return out

    def baseline_name(self):
        return ("the daemon's RSS before the case" if isinstance(self.runner, DaemonRunner)
                else "the warm-up canary run's")

    def check_daemon(self, out):
        """I1 for a long-lived daemon: alive, no crash text, /healthz prompt, fds and RSS back
        near the baseline taken after the warm-up (pool full in both measurements)."""
        d = self.runner
        if d.proc.poll() is not None:
            out.bad("I1", f"the daemon exited ({d.proc.returncode})")
            return
        pool = d.settle()
        lat, health = d.healthz_s()
        if lat is None:
            out.bad("I1", "/healthz did not answer")
        elif lat > DAEMON_HEALTHZ_LIMIT_S:
            out.bad("I1", f"/healthz took {lat:.2f} s (loop not responsive)")
        fds = fd_count(d.proc.pid)
        rss = proc_status_kb(d.proc.pid, "VmRSS")
        deadline = time.time() + DAEMON_TRIM_WAIT_S  # freed heap is returned every 5 s
        while rss and self.daemon_rss and rss - self.daemon_rss > DAEMON_RSS_BACK_MB * 1024 \
                and time.time() < deadline:
            time.sleep(0.5)
            rss = proc_status_kb(d.proc.pid, "VmRSS")
        out.daemon = {"fds": fds, "rss_kb": rss, "healthz_s": round(lat or -1, 4), "pool": pool}
        if fds is not None and self.daemon_fds is not None and abs(fds - self.daemon_fds) > 2:
            out.bad("I1", f"daemon fd count {fds} vs baseline {self.daemon_fds} (± 2)")
        if rss and self.daemon_rss and rss - self.daemon_rss > DAEMON_RSS_BACK_MB * 1024:
            out.bad("I1", f"daemon RSS {rss // 1024} MiB, baseline {self.daemon_rss // 1024} MiB: "
                          f"not back within {DAEMON_RSS_BACK_MB} MiB")

    def _wait_partner_ready(self, flow, run_id=None):
        deadline = time.time() + 10
        while time.time() < deadline:
            row = self.db.run_row(run_id) if run_id else self.db.running_run_by_flow(flow)
            if row and row["status"] == "running" and self.db.span_stats(row["id"])["n"] >= 1:
                time.sleep(0.3)  # let it write its file
                return
            time.sleep(0.05)

    def check_verdict(self, case, tier, out):
        v = out.verdict
        gaps = case.gap_verdicts(tier)
        expected = case.expected_verdict(tier)
        if v in ("ESCAPED", "EXPOSED"):
            if v in gaps:
                out.gap = True
                out.note(f"{v} is a documented Tier-0 gap for this case")
            elif v == "ESCAPED":
                out.bad("V", f"ESCAPED: {out.verdict_msg}")
            else:
                out.bad("V", f"EXPOSED where {TIERS[tier]} expects {expected or 'BLOCKED'}: {out.verdict_msg}")
            return
        allowed = case.allowed_statuses(tier)
        if out.status not in allowed:
            out.bad("V", f"status {out.status} not in expected {sorted(allowed)}")
        if v is None and out.status not in ("killed", "timed_out"):
            out.bad("V", "no RESULT line and the run was not ended by a limit")
        if "reason" in case.opts and out.status != "ok" and not re.search(case.opts["reason"], out.reason or ""):
            out.bad("V", f"reason '{out.reason}' does not match /{case.opts['reason']}/")

    def check_terminal(self, case, tier, res, row, out):
        run = res.run
        if not res.doc:
            out.bad("I3", "no run document")
            return
        st = run.get("status")
        if st not in TERMINAL:
            out.bad("I3", f"status '{st}' is not terminal")
        reason = run.get("reason") or ""
        if not reason:
            out.bad("I3", "empty reason")
        if BARE_REASON.match(reason) and st != "ok":
            out.bad("I3", f"bare reason '{reason}'")
        if "exit code -" in reason or "signal 31" in reason or "SIGSYS:" in reason:
            out.bad("I3", f"reason does not name the cause: '{reason}'")
        if st == "killed" and not KILLED_REASON.match(reason):
            out.bad("I3", f"killed with an unnamed cause: '{reason}'")
        if st == "timed_out" and "wall-clock timeout" not in reason:
            out.bad("I3", f"timed_out reason '{reason}'")
        tripwire = st == "killed" and (reason.startswith("blocked syscall") or run.get("signal") == 31
                                        or run.get("exit_code") == 128 + 31)
        if tripwire:
            m = re.match(r"blocked syscall ([a-z0-9_]+)", reason)
            att = last_attempt(res)
            if not m:
                out.bad("I3", f"tripwire kill without a syscall name: '{reason}'")
            elif not re.search(r"\b%s\b" % re.escape(m.group(1)), att):
                out.bad("I3", f"reason names '{m.group(1)}' but the last attempt was '{att}'")
        running = [n.get("name") for n in walk(res.tree) if n.get("status") == "running" or n.get("end_us") in (None, 0)]
        if running:
            out.bad("I3", f"spans left running: {running[:5]}")
        if st in ("killed", "timed_out") and res.tree:
            errs = [n.get("error") or "" for n in walk(res.tree)]
            if not any(reason and reason in e for e in errs):
                out.note("the run's reason is not on any span's error")
        if row is None:
            out.bad("I3", "no stored run row")
            return
        if row["status"] != st:
            out.bad("I3", f"stored status {row['status']} != reported {st}")
        n_running = self.db.query("SELECT count(*) AS n FROM spans WHERE run_id=? AND (status='running' OR end_us=0)",
                                  (row["id"],))[0]["n"]
        if n_running:
            out.bad("I3", f"{n_running} stored spans left running")
        rc, show_out, show_err = self.runner.show(row["id"])
        try:
            shown = json.loads(show_out)
            if shown["run"]["status"] != st or shown["run"]["reason"] != reason:
                out.bad("I3", "`show` disagrees with the run's own report")
        except (ValueError, KeyError):
            out.bad("I3", f"`show {row['id']} --json` failed (rc {rc}): {short(show_err, 160)}")
        out._show = show_out

    def check_host(self, case, res, row, out, runtime_before):
        workdir = row["workdir"] if row else ""
        prune = self.prune + ([workdir] if workdir else []) + self.other_work_roots(workdir)
        now = find_markers(self.marker_roots(), prune)
        base = set(m for m in self.baseline_markers)
        new = sorted(m for m in now - base if not (workdir and m.startswith(workdir.rstrip("/") + "/")))
        if new:
            out.bad("I5", f"marker files outside the workdir: {new[:5]}")
            for m in new:
                try:
                    if os.path.isdir(m) and not os.path.islink(m):
                        shutil.rmtree(m)
                    else:
                        os.unlink(m)
                except OSError:
                    pass
        if workdir:
            deadline = time.time() + 2
            while os.path.lexists(workdir) and time.time() < deadline:
                time.sleep(0.1)
            if os.path.lexists(workdir):
                out.bad("I5", f"workdir {workdir} not removed")
        if sha_file("/etc/passwd") != self.passwd_sha:
            out.bad("I5", "/etc/passwd changed")
        if self.root:
            keep = os.path.join(HOST_TARGET_DIR, "keep.txt")
            try:
                with open(keep) as f:
                    if f.read() != "sbx-target keep\n":
                        out.bad("I5", f"{keep} modified")
                extra = set(os.listdir(HOST_TARGET_DIR)) - {"keep.txt"}
                if extra:
                    out.bad("I5", f"{HOST_TARGET_DIR} gained {sorted(extra)}")
            except OSError as e:
                out.bad("I5", f"{keep}: {e.strerror} (removed through a link?)")
        after = self.snapshot_runtime()
        for d, snap in runtime_before.items():
            if after.get(d) != snap:
                out.bad("I5", f"staged runtime {d} changed (SDK poisoning?)")

    def check_leaks(self, res, row, out):
        texts = {"run stdout": res.stdout, "run stderr": res.stderr, "show": getattr(out, "_show", "")}
        if row:
            rid = row["id"]
            texts["runs row"] = json.dumps(row, default=str)
            # Large runs (span floods) have up to 10^6 rows: search inside SQLite.
            for secret in self.canaries.secrets + ["sbx-canary-env-", "sbx-canary-ssh-", "sbx-canary-etc-",
                                                   "sbx-canary-sock-"]:
                like = f"%{secret}%"
                n = self.db.query(
                    "SELECT (SELECT count(*) FROM spans WHERE run_id=? AND (name LIKE ? OR tags_json LIKE ? OR "
                    "error LIKE ? OR traceback LIKE ?)) + (SELECT count(*) FROM span_logs WHERE run_id=? AND "
                    "text LIKE ?) AS n", (rid, like, like, like, like, rid, like))[0]["n"]
                if n:
                    out.bad("I6", f"'{secret}' found in {n} stored span/log rows")
                    break
            rundir = os.path.join(self.runner.data, "runs", str(rid))
            for p in glob.glob(os.path.join(rundir, "*")):
                try:
                    with open(p, "rb") as f:
                        texts[p] = f.read(1 << 22).decode("utf-8", "replace")
                except OSError:
                    pass
        for where, text in texts.items():
            s = self.canaries.leak_in(text)
            if s:
                out.bad("I6", f"canary secret {s[:24]}… in {where}")

    def check_canary(self, tier, out):
        h = self.runner.start(self.canary_script, tier, 10)
        r = h.wait(30)
        if self.rss_baseline is None and r.peak_rss_kb and not isinstance(self.runner, DaemonRunner):
            self.rss_baseline = r.peak_rss_kb
        stored = self.db.span_stats(r.run["id"])["n"] if r.run.get("id") else 0
        logs = "".join(stdout_lines(r))
        if r.run.get("status") != "ok":
            out.bad("I2", f"canary run {r.run.get('status')} '{r.run.get('reason')}'")
        elif r.elapsed > CANARY_DEADLINE_S:
            out.bad("I2", f"canary run took {r.elapsed:.1f} s")
        elif stored < 1 or "ok" not in logs:
            out.bad("I2", f"canary run: {stored} spans stored, logs {logs!r}")

    # -- whole tier -------------------------------------------------------------------
    FULL_ROOTS = ["/", "/tmp", "/var/tmp", "/dev/shm", "/run"]  # -xdev: each filesystem once

    def full_marker_scan(self):
        prune = self.prune + glob.glob("/var/lib/hero_logic/work/*")
        return find_markers(self.FULL_ROOTS, prune)


# ------------------------------------------------------------------------------------------
# Report


def short(s, n):
    s = (s or "").replace("\n", " ")
    return s if len(s) <= n else s[: n - 1] + "…"


def print_table(outcomes, f=sys.stdout):
    inv_keys = ("V", "I1", "I2", "I3", "I4", "I5", "I6", "I7")
    hdr = f"{'case':<10} {'tier':<4} {'result':<6} {'verdict':<9} {'status':<10} {'reason':<44} " + " ".join(
        f"{k:<2}" for k in inv_keys) + "  time   rss"
    print(hdr, file=f)
    print("-" * len(hdr), file=f)
    for o in outcomes:
        res = "FAIL" if o.fail else ("GAP" if o.gap else "pass")
        inv = " ".join(("ok" if o.inv[k] == "ok" else "XX") for k in inv_keys)
        rss = f"{o.rss_kb // 1024}M" if o.rss_kb else "-"
        print(f"{o.case.cid:<10} {TIERS[o.tier]:<4} {res:<6} {str(o.verdict or '-'):<9} {str(o.status):<10} "
              f"{short(o.reason, 44):<44} {inv} {o.elapsed:5.1f}s {rss:>5}", file=f)
    fails = [o for o in outcomes if o.fail]
    if fails:
        print("\nfailures:", file=f)
        for o in fails:
            for inv, msg in o.fail:
                print(f"  {o.case.cid} {TIERS[o.tier]} [{inv}] {msg}", file=f)
    notes = [o for o in outcomes if o.notes]
    if notes:
        print("\nnotes:", file=f)
        for o in notes:
            for msg in o.notes:
                print(f"  {o.case.cid} {TIERS[o.tier]}: {msg}", file=f)


def report_json(outcomes):
    return [{"case": o.case.cid, "file": os.path.basename(o.case.path), "class": o.case.klass,
             "tier": TIERS[o.tier], "profile": o.tier, "verdict": o.verdict, "verdict_msg": o.verdict_msg,
             "status": o.status, "reason": o.reason, "passed": o.passed, "gap": o.gap,
             "failures": o.fail, "notes": o.notes, "invariants": o.inv, "elapsed_s": round(o.elapsed, 2),
             "supervisor_peak_rss_kb": o.rss_kb,
             "supervisor_rss_growth_mb": round(o.rss_growth_mb, 2) if o.rss_growth_mb is not None else None,
             "neighbour_max_lag_s": round(o.neighbour_lag, 3) if o.neighbour_lag is not None else None,
             "daemon": o.daemon}
            for o in outcomes]


# ------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tier", action="append", choices=sorted(TIERS), help="profile(s) to run (default both)")
    ap.add_argument("--case", action="append", default=[], help="only cases whose id or file name contains this")
    ap.add_argument("--bin", default=os.environ.get("HERO_LOGIC_BIN", os.path.join(REPO, "build", "hero_logic")))
    ap.add_argument("--shared", default=os.environ.get("HERO_ESCAPE_DIR", os.path.join(REPO, "..", "shared", "escape")))
    ap.add_argument("--cases-dir", default=os.path.join(HERE, "cases"))
    ap.add_argument("--runner", default="cli", choices=["cli", "daemon"],
                    help="cli: one `hero_logic run` per run; daemon: one `hero_logic serve` for "
                         "the battery (warm pool on), cases via script_run / play_run_async")
    ap.add_argument("--serve-arg", action="append", metavar="ARG",
                    help="extra argument for `hero_logic serve` (daemon runner), e.g. --serve-arg=--pool=0")
    ap.add_argument("--report-json", default=os.environ.get("HERO_ESCAPE_REPORT"))
    ap.add_argument("--keep-data", action="store_true", help="keep the data dir for inspection")
    args = ap.parse_args()
    tiers = args.tier or ["untrusted", "trusted"]

    if not os.access(args.bin, os.X_OK):
        log(f"harness: hero_logic binary not found at {args.bin} (set HERO_LOGIC_BIN)")
        return 2
    shared = os.path.abspath(args.shared)
    if not os.path.isdir(shared):
        print(f"NOTE: shared cases skipped: {shared} does not exist "
              "(CI: place a copy of shared/ beside the repo). Own cases still run.", flush=True)
        shared = None
    cases = discover_cases(shared, args.cases_dir)
    if args.case:
        cases = [c for c in cases if any(k.lower() in (c.cid + " " + c.stem).lower() for k in args.case)]
    if not cases:
        log("harness: no cases selected")
        return 2
    if os.geteuid() != 0:
        print("NOTE: not root: runs share the harness uid (no per-run uids); Tier-0 isolation "
              "checks are weaker", flush=True)

    tmp = tempfile.mkdtemp(prefix="hero-escape-")
    os.chmod(tmp, 0o755)
    stage = os.path.join(tmp, "cases")
    os.makedirs(stage)
    os.chmod(stage, 0o755)
    data = os.path.join(tmp, "data")
    set_subreaper()
    canaries = Canaries()
    outcomes = []

    def on_signal(sig, _frm):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    t_start = time.time()
    runner = None
    try:
        canaries.plant()
        for n in canaries.notes:
            print("NOTE:", n, flush=True)
        if args.runner == "daemon":
            runner = DaemonRunner(os.path.abspath(args.bin), data, args.serve_arg or [])
        else:
            runner = CliRunner(os.path.abspath(args.bin), data)
        battery = Battery(runner, canaries, stage, args)
        # Warm-up: creates the store and stages the runtime once, and gives the RSS baseline.
        w = runner.start(battery.canary_script, "trusted", 10).wait(60)
        if w.run.get("status") != "ok":
            log(f"harness: warm-up run failed: {w.run.get('status')} {w.run.get('reason')} rc={w.rc}\n{w.stderr[-2000:]}")
            return 2
        battery.rss_baseline = w.peak_rss_kb
        if isinstance(runner, DaemonRunner):
            for tier in tiers:  # one run per tier warms the caches that every case then uses
                runner.start(battery.canary_script, tier, 10).wait(60)
            pool = runner.settle()
            battery.daemon_fds = fd_count(runner.proc.pid)
            battery.daemon_rss = proc_status_kb(runner.proc.pid, "VmRSS")
            print(f"NOTE: daemon baseline: {battery.daemon_fds} fds, {battery.daemon_rss // 1024} MiB RSS, "
                  f"warm pool {json.dumps(pool)}", flush=True)
        full_base = battery.full_marker_scan()
        for tier in tiers:
            for case in cases:
                log(f"[{TIERS[tier]}] {case.cid:<6} {case.stem} (timeout {case.timeout:g} s) ...")
                try:
                    o = battery.run_case(case, tier)
                except Exception as e:  # noqa: BLE001 - a harness bug must not hide the rest
                    o = Outcome(case, tier)
                    o.bad("V", f"harness error: {e!r}")
                outcomes.append(o)
                log(f"        -> {'FAIL' if o.fail else ('GAP' if o.gap else 'pass')} "
                    f"verdict={o.verdict} status={o.status} '{short(o.reason, 60)}' {o.elapsed:.1f}s"
                    + "".join(f"\n           [{i}] {m}" for i, m in o.fail))
        new = sorted(battery.full_marker_scan() - full_base)
        if new:
            o = Outcome(Case(os.path.join(HERE, "harness.py"), False), tiers[-1])
            o.case.cid = "full-scan"
            o.bad("I5", f"find / -xdev found marker files after the battery: {new[:5]}")
            outcomes.append(o)
    except KeyboardInterrupt:
        log("harness: interrupted")
    finally:
        if runner is not None and isinstance(runner, DaemonRunner):
            rc = runner.stop()
            tail = runner.new_log()
            bad = [m for m in CRASH_MARKERS if m in tail]
            if rc != 0 or bad:
                o = Outcome(Case(os.path.join(HERE, "harness.py"), False), tiers[-1])
                o.case.cid = "daemon-stop"
                o.bad("I1", f"daemon stop: exit {rc}, stderr markers {bad}: {short(tail, 300)}")
                outcomes.append(o)
        canaries.remove()
        if not args.keep_data:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log(f"harness: data kept in {tmp}")

    print(f"\nhostile battery ({args.runner} runner, {len(cases)} cases, tiers {','.join(TIERS[t] for t in tiers)}, "
          f"{time.time() - t_start:.0f} s)\n")
    print_table(outcomes)
    if args.report_json:
        with open(args.report_json, "w") as f:
            json.dump(report_json(outcomes), f, indent=1)
    failed = sum(1 for o in outcomes if o.fail)
    gaps = sum(1 for o in outcomes if o.gap and not o.fail)
    print(f"\n{len(outcomes) - failed} passed ({gaps} documented Tier-0 gaps), {failed} failed")
    return 1 if failed or not outcomes else 0


if __name__ == "__main__":
    sys.exit(main())
