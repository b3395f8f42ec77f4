"""Resource faults in the supervisor: RLIMIT_NOFILE lowered on the running daemon (prlimit),
and process creation failing with EAGAIN (the daemon moved into a pids cgroup at its limit).
New runs must be rejected with a clear error (the run ends `failed` with a reason naming the
resource, or the call fails), the daemon keeps serving, a run already running is unaffected
(ends ok with every span), and once the resource returns new runs succeed. The daemons run with --pool 0: a run served by an already
pre-started warm-pool worker needs no new fd or process, so with the pool on the first runs
under a fault may still succeed (legitimately); without it every new run needs fresh ones."""
import os
import resource
import tempfile
import time
import unittest

from rely_common import (SPANNER, Daemon, RpcError, fd_count, open_db, threads,
                         wait_until)

PIDS_ROOT = "/sys/fs/cgroup/pids"


def read(path):
    with open(path) as f:
        return f.read()


def start_long(d, n=60):
    rid = d.call("play_run_async", source=SPANNER, profile="trusted",
                 input={"n": n, "pause": 0.05})["run_id"]
    wait_until(lambda: d.call("play_status", run_id=rid)["status"] == "running", 10)
    time.sleep(0.3)
    return rid


def try_new_run(d):
    """(status, reason) of a new run under the fault: the call's error, or its end."""
    try:
        rid = d.call("play_run_async", source=SPANNER, profile="trusted",
                     input={"n": 2, "pause": 0})["run_id"]
    except RpcError as e:
        return "rejected", e.message
    rec = d.call("play_wait", run_id=rid, timeout_ms=20000)
    return rec["status"], rec["reason"]


class ResourceFaultTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="hero-rely-")
        os.chmod(self._tmp.name, 0o755)
        self.d = Daemon(os.path.join(self._tmp.name, "data"), "--concurrency", "8", "--pool", "0")

    def tearDown(self):
        try:
            rc = self.d.stop()
            print(self.d.log()[-3000:]) if rc != 0 else None
            self.assertEqual(rc, 0)
        finally:
            self._tmp.cleanup()

    def check_existing_run(self, rid, n=60):
        rec = self.d.call("play_wait", run_id=rid, timeout_ms=30000)
        self.assertEqual(rec["status"], "ok", rec)
        db = open_db(self.d.data)
        try:
            self.assertEqual(db.execute("SELECT COUNT(*) FROM spans WHERE run_id=?",
                                        (rid,)).fetchone()[0], n + 1)
        finally:
            db.close()

    def check_recovered(self):
        for _ in range(3):
            st, why = try_new_run(self.d)
            self.assertEqual(st, "ok", why)

    def test_lowered_nofile_rejects_new_runs_clearly_and_recovers(self):
        d = self.d
        pid = d.proc.pid
        long_run = start_long(d)
        soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        used = fd_count(pid)
        # Room for the RPC connection and one more, not for a run's sockets and pipes.
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (used + 2, hard))
        try:
            outcomes = [try_new_run(d) for _ in range(3)]
            self.assertEqual(d.proc.poll(), None, d.log())
            health = d.http("GET", "/healthz")[0]
        finally:
            resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
        print("\nnofile %d: %s, healthz %s" % (used + 2, outcomes, health))
        for st, why in outcomes:
            self.assertIn(st, {"rejected", "failed"}, why)
            self.assertRegex(why.lower(), "too many open files|file descriptor|emfile", why)
        self.check_existing_run(long_run)
        self.check_recovered()

    def test_spawn_failing_with_eagain_rejects_new_runs_clearly_and_recovers(self):
        if not os.access(os.path.join(PIDS_ROOT, "cgroup.procs"), os.W_OK):
            self.skipTest("no writable cgroup v1 pids hierarchy at " + PIDS_ROOT)
        d = self.d
        pid = d.proc.pid
        long_run = start_long(d)
        with open("/proc/%d/cgroup" % pid) as f:
            orig = next(l.split(":", 2)[2].strip() for l in f if ":pids:" in l)
        cg = os.path.join(PIDS_ROOT, "hero_rely_%d" % os.getpid())
        os.makedirs(cg, exist_ok=True)
        try:
            with open(os.path.join(cg, "pids.max"), "w") as f:
                f.write(str(threads(pid)))  # no new thread or process: fork/clone -> EAGAIN
            with open(os.path.join(cg, "cgroup.procs"), "w") as f:
                f.write(str(pid))
            try:
                outcomes = [try_new_run(d) for _ in range(3)]
                self.assertEqual(d.proc.poll(), None, d.log())
                with open(os.path.join(cg, "pids.events")) as f:
                    events = f.read().strip()
            finally:
                with open(os.path.join(PIDS_ROOT, orig.lstrip("/"), "cgroup.procs"), "w") as f:
                    f.write(str(pid))
        finally:
            wait_until(lambda: not read(os.path.join(cg, "cgroup.procs")).strip(), 5)
            os.rmdir(cg)
        print("\npids limit: %s (%s)" % (outcomes, events))
        for st, why in outcomes:
            self.assertIn(st, {"rejected", "failed"}, why)
            self.assertRegex(why.lower(), "resource temporarily unavailable|eagain|spawn|fork",
                             why)
        self.check_existing_run(long_run)
        self.check_recovered()


if __name__ == "__main__":
    unittest.main()
