"""The warm pool of `hero_logic serve` (--pool N, --pool-idle S): a pooled run gives the same
tree, status and reason as a cold one; limits and the wall-clock timer start at dispatch; Tier-1
reasons hold on pooled untrusted workers; idle workers are recycled, replaced when they die,
never counted as runs, and gone (with their uid leases) after shutdown; --pool 0 is the cold
path. Pooled vs cold is told apart by the pool's hit counter in /healthz."""
import fcntl
import json
import os
import re
import signal
import time
import unittest

from daemon_harness import Daemon, DaemonTestCase, src

UID_BASE, UID_COUNT = 200000, 2000  # SupervisorConfig defaults (root supervisor)
ROOT = os.geteuid() == 0

TREE = src('''
    from hero_tracing import flow
    @flow(name="shapes")
    def shapes(n: int = 2):
        with flow.step("outer", n=n) as s:
            for i in range(n):
                with flow.step("inner"):
                    print("line", i)
            s.tag(done=True)
        return {"n": n}
''')

FAILS = src('''
    from hero_tracing import flow
    @flow(name="breaks")
    def breaks():
        with flow.step("parse"):
            int("x")
''')

PLAIN = src('''
    import sys
    print("plain script")
    sys.exit(3)
''')

SLEEP = src('''
    import time
    from hero_tracing import flow
    @flow(name="nap")
    def nap(s: float = 1.0):
        with flow.step("sleep"):
            time.sleep(s)
        return "woke"
''')

LIMITS = src('''
    import os, resource
    from hero_tracing import flow
    @flow(name="limits")
    def limits():
        soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
        return {"cpu_soft": soft, "cpu_hard": hard, "run_id": os.environ.get("HERO_FLOW_RUN_ID"),
                "home": os.environ.get("HOME"), "cwd": os.getcwd()}
''')

MEMORY = src('''
    from hero_tracing import flow
    @flow(name="hog")
    def hog():
        with flow.step("alloc"):
            blocks = []
            while True:
                blocks.append(bytearray(64 << 20))
''')

PTRACE = src('''
    import ctypes
    from hero_tracing import flow
    @flow(name="tracer")
    def tracer():
        with flow.step("attach"):
            ctypes.CDLL(None, use_errno=True).ptrace(0, 0, 0, 0)
        return "not blocked"
''')


def pool(d):
    return json.loads(d.http("GET", "/healthz")[1])["backend"]["pool"]


def wait_pool(d, idle, timeout=30, **extra):
    """Waits until the pool has `idle` ready workers and nothing starting (plus extra fields)."""
    end = time.time() + timeout
    p = None
    while time.time() < end:
        p = pool(d)
        if p["idle"] == idle and p["starting"] == 0 and all(p[k] >= v for k, v in extra.items()):
            return p
        time.sleep(0.05)
    raise AssertionError("pool never reached idle=%d %s: %s" % (idle, extra, p))


def proc_file(pid, name):
    """Text of /proc/PID/NAME, or "" if the process is gone."""
    try:
        with open("/proc/%s/%s" % (pid, name)) as f:
            return f.read()
    except OSError:
        return ""


def state_and_ppid(pid):
    """("R", 123) from /proc/PID/stat; (None, None) if gone."""
    fields = proc_file(pid, "stat").rpartition(")")[2].split()
    return (fields[0], int(fields[1])) if len(fields) > 1 else (None, None)


def children(pid):
    """Live pids whose parent is `pid` (a daemon's direct children: workers, runs' launchers)."""
    pids = [int(n) for n in os.listdir("/proc") if n.isdigit()]
    return [p for p in pids if state_and_ppid(p) not in ((None, None), ("Z", pid))
            and state_and_ppid(p)[1] == pid]


def uid_of(pid):
    """Real uid of `pid`, or None if it is gone."""
    m = re.search(r"^Uid:\s+(\d+)", proc_file(pid, "status"), re.M)
    return int(m.group(1)) if m else None


def processes_of_uids(uids):
    """Live (not zombie) processes whose real uid is in `uids`."""
    pids = [int(n) for n in os.listdir("/proc") if n.isdigit()]
    return [p for p in pids if uid_of(p) in uids and state_and_ppid(p)[0] not in (None, "Z")]


def normalize(node):
    """A tree without what differs between any two runs (times, usage, ids)."""
    return {
        "name": node["name"], "kind": node["kind"], "status": node["status"],
        "tags": node["tags"], "error": node["error"], "error_type": node["error_type"],
        "traceback": node["traceback"], "file": node["file"], "line": node["line"],
        # per stream, in order (stdout and stderr pipes are read in either order)
        "logs": {st: [l["text"] for l in node.get("logs", []) if l["stream"] == st]
                 for st in ("stdout", "stderr", "log")},
        "children": [normalize(c) for c in node.get("children", [])],
    }


class PooledRunTest(DaemonTestCase):
    """Pool of 1 per profile; a second daemon with --pool 0 is the cold reference."""
    DAEMON_ARGS = ("--pool", "1")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cold = Daemon(os.path.join(cls._tmp.name, "cold"), "--pool", "0")

    @classmethod
    def tearDownClass(cls):
        try:
            assert cls.cold.stop() == 0, cls.cold.log()
        finally:
            super().tearDownClass()

    def run_pooled(self, profile, timeout_ms=10000, **params):
        before = wait_pool(self.d, 2)["hits"]
        r = self.run_on(self.d, profile, timeout_ms, **params)
        self.assertEqual(pool(self.d)["hits"], before + 1, "the run did not use a pooled worker")
        return r

    @staticmethod
    def run_on(d, profile, timeout_ms, **params):
        rid = d.call("play_run_async", profile=profile, timeout_ms=timeout_ms, **params)["run_id"]
        r = d.call("play_wait", run_id=rid, timeout_ms=timeout_ms + 20000)
        r["tree"] = d.call("play_spans", run_id=rid)
        return r

    def test_pooled_run_matches_cold(self):
        cases = [(TREE, {"n": 3}), (FAILS, {}), (PLAIN, {}), (TREE, {"n": "bad"})]
        for profile in ("trusted", "untrusted"):
            for source, inp in cases:
                with self.subTest(profile=profile, source=source.splitlines()[-1], input=inp):
                    warm = self.run_pooled(profile, source=source, input=inp)
                    cold = self.run_on(self.cold, profile, 10000, source=source, input=inp)
                    self.assertEqual(pool(self.cold)["hits"], 0)
                    for k in ("status", "reason", "output", "exit_code", "signal", "flow",
                              "span_count", "diagnostics", "stdout_tail", "stderr_tail"):
                        self.assertEqual(warm[k], cold[k], k)
                    self.assertEqual(normalize(warm["tree"]), normalize(cold["tree"]))
        # sanity: the cases really differ in outcome
        self.assertEqual(warm["status"], "failed")

    def test_timer_and_cpu_limit_count_from_dispatch(self):
        # The idle worker is older than the run's timeout: it still gets the full timeout.
        wait_pool(self.d, 2)
        time.sleep(2.0)
        r = self.run_pooled("untrusted", timeout_ms=1500, source=SLEEP, input={"s": 1.0})
        self.assertEqual((r["status"], r["output"]), ("ok", "woke"), r["reason"])
        # ... and no more than that, measured from dispatch.
        time.sleep(1.6)
        r = self.run_pooled("untrusted", timeout_ms=1500, source=SLEEP, input={"s": 30})
        self.assertEqual(r["status"], "timed_out")
        self.assertEqual(r["reason"], "wall-clock timeout 1.5 s")
        self.assertGreaterEqual(r["ended_us"] - r["started_us"], 1_500_000)
        self.assertLess(r["ended_us"] - r["started_us"], 8_000_000)
        # RLIMIT_CPU: the worker's high pre-start cap was lowered to 2 x the timeout (4 s here)
        # plus the CPU it used before dispatch (rounded up), as the boot documents.
        for profile in ("trusted", "untrusted"):
            r = self.run_pooled(profile, timeout_ms=2000, source=LIMITS)
            out = r["output"]
            self.assertEqual(r["status"], "ok", r["reason"])
            self.assertLessEqual(out["cpu_soft"], 4 + 2, out)
            self.assertEqual(out["cpu_hard"], out["cpu_soft"] + 2, out)
            self.assertEqual(out["run_id"], str(r["id"]))
            if profile == "trusted":
                self.assertTrue(out["home"].endswith("/%d" % r["id"]), out)
                self.assertEqual(out["cwd"], out["home"])

    def test_reasons_on_pooled_untrusted_worker(self):
        r = self.run_pooled("untrusted", source=PTRACE)
        self.assertEqual(r["status"], "killed")
        self.assertIn("blocked syscall ptrace", r["reason"])
        r = self.run_pooled("untrusted", source=MEMORY)
        self.assertEqual(r["status"], "killed")
        self.assertIn("memory limit", r["reason"])
        # cancel: a pooled run stops like a cold one
        before = wait_pool(self.d, 2)["hits"]
        rid = self.d.call("play_run_async", profile="untrusted", source=SLEEP,
                          input={"s": 30})["run_id"]
        end = time.time() + 20
        while time.time() < end:
            tree = self.d.call("play_spans", run_id=rid)  # null until the root arrives
            if tree and any(n["name"] == "sleep" for n in self.walk(tree)):
                break
            time.sleep(0.05)
        self.assertEqual(pool(self.d)["hits"], before + 1)
        self.d.call("play_cancel", run_id=rid)
        r = self.d.call("play_wait", run_id=rid, timeout_ms=20000)
        self.assertEqual(r["status"], "cancelled")
        sleep = [n for n in self.walk(self.d.call("play_spans", run_id=rid))
                 if n["name"] == "sleep"]
        self.assertEqual(sleep[0]["status"], "cancelled")


class PoolLifecycleTest(unittest.TestCase):
    """Idle recycling, a worker killed while idle, and shutdown, on a daemon of its own."""

    def setUp(self):
        import tempfile
        self._tmp = tempfile.TemporaryDirectory(prefix="hero-pool-")
        os.chmod(self._tmp.name, 0o755)

    def tearDown(self):
        self._tmp.cleanup()

    def daemon(self, *args):
        return Daemon(os.path.join(self._tmp.name, "data"), *args)

    def test_idle_workers_are_recycled_and_replaced(self):
        d = self.daemon("--pool", "1", "--pool-idle", "1")
        try:
            first = wait_pool(d, 2)
            old = set(children(d.proc.pid))
            self.assertEqual(len(old), 2)
            p = wait_pool(d, 2, timeout=20, recycled=first["recycled"] + 2)
            self.assertGreaterEqual(p["started"], first["started"] + 2)
            now = set(children(d.proc.pid))
            self.assertEqual(len(now), 2)
            self.assertFalse(old & now, "recycled workers are still alive")
            self.assertEqual(d.call("play_list")["runs"], [])
        finally:
            self.assertEqual(d.stop(), 0, d.log())

    def test_worker_killed_while_idle_is_replaced_and_no_run(self):
        d = self.daemon("--pool", "1")
        try:
            first = wait_pool(d, 2)
            victims = children(d.proc.pid)
            self.assertEqual(len(victims), 2)
            for pid in victims:
                os.kill(pid, signal.SIGKILL)
            p = wait_pool(d, 2, died_idle=2)
            self.assertEqual(p["started"], first["started"] + 2)
            self.assertEqual((p["hits"], p["misses"]), (0, 0))
            self.assertEqual(d.call("play_list")["runs"], [], "an idle worker became a run")
            # and the replacements work
            rid = d.call("play_run_async", profile="untrusted", source=TREE)["run_id"]
            self.assertEqual(d.call("play_wait", run_id=rid, timeout_ms=20000)["status"], "ok")
            self.assertEqual(pool(d)["hits"], 1)
        finally:
            self.assertEqual(d.stop(), 0, d.log())

    @unittest.skipUnless(ROOT, "per-run uids need a root supervisor")
    def test_shutdown_leaves_no_process_and_no_lease(self):
        d = self.daemon("--pool", "2")
        try:
            wait_pool(d, 4)
            workers = children(d.proc.pid)
            uids = {uid_of(p) for p in workers}
            self.assertEqual(len(uids), 4, "each worker has its own run uid")
            self.assertTrue(all(UID_BASE <= u < UID_BASE + UID_COUNT for u in uids), uids)
            self.assertGreaterEqual(len(processes_of_uids(uids)), 4)
        finally:
            self.assertEqual(d.stop(), 0, d.log())
        self.assertEqual(processes_of_uids(uids), [])
        for u in uids:
            with open("/run/hero_logic/uids/%d.lock" % u, "a+") as f:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if still leased
        work = [n for n in os.listdir("/var/lib/hero_logic/work") if n.startswith(".pool-")]
        for root in os.listdir("/var/lib/hero_logic/work"):
            path = os.path.join("/var/lib/hero_logic/work", root)
            if os.path.isdir(path):
                work += [n for n in os.listdir(path) if n.startswith(".pool-%d-" % d.proc.pid)]
        self.assertEqual(work, [], "pooled workdirs left behind")

    @unittest.skipUnless(ROOT, "per-run uids need a root supervisor")
    def test_restart_after_kill9_removes_idle_workers_and_their_workdirs(self):
        d = self.daemon("--pool", "1")
        wait_pool(d, 2)
        workers = children(d.proc.pid)
        uids = {uid_of(p) for p in workers}
        dirs = []
        for p in workers:
            cwd = os.readlink("/proc/%d/cwd" % p)  # trusted: the worker's workdir
            if "/.pool-%d-" % d.proc.pid in cwd:
                dirs.append(cwd)
        self.assertEqual(len(dirs), 1, dirs)
        d.kill9()
        d = self.daemon("--pool", "1")
        try:
            wait_pool(d, 2)
            # (a uid the new daemon leased again is its own now)
            mine = {uid_of(p) for p in children(d.proc.pid)}
            end = time.time() + 10  # SIGKILLed by the new daemon's start-up sweep; exits take a moment
            while processes_of_uids(uids - mine) and time.time() < end:
                time.sleep(0.05)
            self.assertEqual(processes_of_uids(uids - mine), [])
            self.assertFalse(any(os.path.exists(x) for x in dirs), dirs)
        finally:
            self.assertEqual(d.stop(), 0, d.log())

    def test_pool_zero_is_the_cold_path(self):
        d = self.daemon("--pool", "0")
        try:
            time.sleep(0.5)
            self.assertEqual(pool(d), {"size": 0, "pools": 0, "idle": 0, "starting": 0,
                                       "hits": 0, "misses": 0, "started": 0, "died_idle": 0,
                                       "recycled": 0, "failed": 0})
            self.assertEqual(children(d.proc.pid), [])
            rid = d.call("play_run_async", profile="untrusted", source=TREE)["run_id"]
            self.assertEqual(d.call("play_wait", run_id=rid, timeout_ms=20000)["status"], "ok")
            self.assertEqual(pool(d)["started"], 0)
        finally:
            self.assertEqual(d.stop(), 0, d.log())


if __name__ == "__main__":
    unittest.main()
