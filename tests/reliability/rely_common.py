"""Helpers for the daemon reliability tests: /proc scans (descendants, uids, zombies, fds,
RSS, threads), a read-only SQLite observer of the data dir, and span-emitting flows. The
daemon itself is started with tests/daemon/daemon_harness.py (imported, not copied)."""
import json
import os
import sqlite3
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "daemon"))

from daemon_harness import Daemon, RpcError, SseReader, src  # noqa: E402,F401

TERMINAL = {"ok", "failed", "timed_out", "cancelled", "killed", "interrupted"}
UID_BASE, UID_COUNT = 200000, 2000  # SupervisorConfig defaults (supervisor/core/supervisor.h)

# Emits n steps, `pause` seconds each; the SDK's background flusher sends them within ~10 ms.
SPANNER = src('''
    import time
    from hero_tracing import flow
    @flow(name="spanner")
    def spanner(n=40, pause=0.02):
        for i in range(n):
            with flow.step("s%d" % i, i=i):
                flow.log("line %d" % i)
                time.sleep(pause)
        return {"n": n}
''')


def proc_stat(pid):
    """(state, ppid, starttime) or None if the process is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    return rest[0], int(rest[1]), int(rest[19])


def proc_uid(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("Uid:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def all_pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def children_map():
    kids = {}
    for p in all_pids():
        st = proc_stat(p)
        if st:
            kids.setdefault(st[1], []).append(p)
    return kids


def descendants(root):
    """Every live process below `root` (pid list, root excluded)."""
    kids, out, todo = children_map(), [], [root]
    while todo:
        for c in kids.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def zombies_of(pid):
    return [c for c in children_map().get(pid, []) if (proc_stat(c) or ("",))[0] == "Z"]


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def status_field(pid, name):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    raise KeyError(name)


def rss_kb(pid):
    return status_field(pid, "VmRSS")


def threads(pid):
    return status_field(pid, "Threads")


def is_hero_daemon(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return False
    return len(argv) > 1 and argv[0].endswith(b"hero_logic") and argv[1] == b"serve"


def has_live_daemon_ancestor(pid):
    """True if a `hero_logic serve` (or `hero_logic run`) process is an ancestor of pid: then
    the process belongs to a live supervisor (another test's), not to a killed one."""
    seen = 0
    while pid > 1 and seen < 64:
        st = proc_stat(pid)
        if not st:
            return False
        pid = st[1]
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                argv0 = f.read().split(b"\0")[0]
        except OSError:
            return False
        if argv0.endswith(b"hero_logic"):
            return True
        seen += 1
    return False


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def run_leftovers(d):
    """Processes below the daemon that are not idle warm-pool workers (`--pool`: pre-started
    interpreters waiting for a run, each one direct child of the daemon whose subtree runs
    `hero_tracing.boot --warm`). Returns (leftovers, pool_children); more pool children than
    the daemon reports idle + starting count as leftovers too."""
    pool = json.loads(d.http("GET", "/healthz")[1])["backend"].get("pool", {})
    budget = pool.get("idle", 0) + pool.get("starting", 0)
    kids = children_map()
    pool_children, left = [], []
    for c in kids.get(d.proc.pid, []):
        sub, todo = [c], [c]
        while todo:
            for g in kids.get(todo.pop(), []):
                sub.append(g)
                todo.append(g)
        warm = any(b"--warm" in _cmdline(p) for p in sub)
        if warm and len(pool_children) < budget:
            pool_children.append(c)
        else:
            left.extend(sub)
    return left, pool_children


class DbObserver:
    """Reads the daemon's database read-only (WAL readers see committed transactions only):
    what it has seen is, by definition, committed."""

    def __init__(self, data):
        self.path = os.path.join(data, "hero_logic.db")
        self.db = None
        self.spans = {}  # (run_id, seq) -> (span_id, name, parent_id)
        self.logs = {}  # (run_id, seq) -> text
        self.runs = {}  # run_id -> status (the last committed one seen)

    def _connect(self):
        if self.db is None and os.path.exists(self.path):
            self.db = sqlite3.connect("file:%s?mode=ro" % self.path, uri=True, timeout=5,
                                      isolation_level=None)

    def poll(self):
        self._connect()
        if self.db is None:
            return
        try:
            self.db.execute("BEGIN")
            runs = self.db.execute("SELECT id, status FROM runs").fetchall()
            spans = self.db.execute(
                "SELECT run_id, seq, span_id, name, parent_id FROM spans").fetchall()
            logs = self.db.execute("SELECT run_id, seq, text FROM span_logs").fetchall()
            self.db.execute("COMMIT")
        except sqlite3.OperationalError:
            try:
                self.db.execute("ROLLBACK")
            except sqlite3.OperationalError:
                pass
            return
        for rid, st in runs:
            self.runs[rid] = st
        for rid, seq, sid, name, parent in spans:
            self.spans[(rid, seq)] = (sid, name, parent)
        for rid, seq, text in logs:
            self.logs[(rid, seq)] = text

    def close(self):
        if self.db is not None:
            self.db.close()
            self.db = None


def sse_replay(port, run_id, timeout=10):
    """The SSE event log of an ended run as [(id, event, data)], up to its `end` event, and
    whatever bytes followed it (must be none: the log closes at `end`)."""
    r = SseReader(port, run_id, timeout=timeout)
    try:
        evs = list(r.events(until=lambda e: e[1] == "end", deadline=timeout))
        return evs, r.raw
    finally:
        r.close()


def open_db(data):
    return sqlite3.connect(os.path.join(data, "hero_logic.db"), timeout=10)


def wait_until(pred, timeout, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()
