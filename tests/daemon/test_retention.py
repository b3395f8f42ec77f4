"""Retention: --retain-mb deletes the oldest finished runs (records, spans, logs and their
$DATA/runs/<id>/ directories) while the database is too big, never a running run and never
the newest; --retain-days deletes runs that ended longer ago, and not before."""
import os
import re
import subprocess
import time
import unittest

from daemon_harness import BIN, DaemonTestCase, RpcError, src

# ~80 KiB of stdout per run (~100 KiB in the database): a dozen runs exceed 1 MiB. Lines stay
# short: a log row above ~1 KB spills into an overflow page of its own.
NOISY = src('''
    from hero_tracing import flow
    @flow(name="noisy")
    def noisy(n=400):
        with flow.step("talk"):
            for i in range(n):
                print("%04d " % i + "x" * 200)
''')

SLEEPER = src('''
    import time
    from hero_tracing import flow
    @flow(name="sleeper")
    def sleeper(s=60):
        with flow.step("nap"):
            print("y" * 5000)
            time.sleep(s)
''')


def run_dir(d, rid):
    return os.path.join(d.data, "runs", str(rid))


def exists(d, rid):
    try:
        d.call("play_status", run_id=rid)
        return True
    except RpcError as e:
        if "not found" in e.message:
            return False
        raise


class RetentionBySizeTest(DaemonTestCase):
    DAEMON_ARGS = ("--retain-days", "0", "--retain-mb", "1", "--retain-interval", "1")

    def test_oldest_finished_runs_go_running_and_newest_stay(self):
        sleeper = self.d.call("play_run_async", source=SLEEPER, profile="trusted")["run_id"]
        self.wait_status(sleeper, ["running"])
        noisy = []
        for _ in range(16):
            doc = self.d.call("play_start", source=NOISY, profile="trusted", timeout_ms=30000)
            self.assertEqual(doc["run"]["status"], "ok", doc["run"])
            noisy.append(doc["run"]["id"])
        newest = noisy[-1]
        # A pass every second: wait until the oldest noisy runs are gone.
        end = time.time() + 30
        while time.time() < end and exists(self.d, noisy[0]):
            time.sleep(0.2)
        time.sleep(2.5)  # at least one more full pass: the database is within the limit now

        listed = {r["id"] for r in self.d.call("play_list", limit=1000)["runs"]}
        gone = [r for r in noisy if r not in listed]
        kept = [r for r in noisy if r in listed]
        self.assertIn(noisy[0], gone)
        self.assertIn(newest, kept)
        # Oldest first: everything deleted is older than everything kept.
        self.assertLess(max(gone), min(kept))
        for rid in gone:
            self.assertFalse(exists(self.d, rid))
            self.assertFalse(os.path.exists(run_dir(self.d, rid)), rid)
            with self.assertRaises(RpcError):
                self.d.call("play_spans", run_id=rid)
        for rid in kept:
            self.assertTrue(os.path.exists(os.path.join(run_dir(self.d, rid), "flow.py")), rid)
            self.assertEqual(self.d.call("play_status", run_id=rid)["status"], "ok")
        newest_logs = self.d.call("play_logs", run_id=newest)
        # Printed lines arrive batched (several lines per log entry): count lines.
        lines = [ln for l in newest_logs for ln in l.get("text", "").splitlines() if "xxxx" in ln]
        self.assertGreaterEqual(len(lines), 400)

        # The running run is the oldest of all and is never touched.
        self.assertIn(sleeper, listed)
        self.assertEqual(self.d.call("play_status", run_id=sleeper)["status"], "running")
        self.assertTrue(os.path.exists(os.path.join(run_dir(self.d, sleeper), "flow.py")))

        metrics = self.d.http("GET", "/metrics")[1].decode()
        m = re.search(r"^hero_retention_runs_deleted_total (\d+)$", metrics, re.M)
        self.assertIsNotNone(m, metrics)
        self.assertGreaterEqual(int(m.group(1)), len(gone))
        self.assertRegex(self.d.log(), r"retention: deleted [1-9]\d* run\(s\), removed [1-9]\d* run dir\(s\)")

        # The daemon still works, and the sleeper ends normally.
        self.assertEqual(self.d.call("play_cancel", run_id=sleeper)["status"], "running")
        self.assertEqual(self.d.call("play_wait", run_id=sleeper, timeout_ms=20000)["status"], "cancelled")


class RetentionByAgeTest(DaemonTestCase):
    # 0.0001 days = 8.64 s; no size limit.
    DAEMON_ARGS = ("--retain-days", "0.0001", "--retain-mb", "0", "--retain-interval", "1")
    AGE_S = 8.64

    def test_run_is_deleted_only_after_it_is_old_enough(self):
        rid = self.d.call("play_run_async", source="print('hi')\n", profile="trusted")["run_id"]
        rec = self.d.call("play_wait", run_id=rid, timeout_ms=20000)
        self.assertEqual(rec["status"], "ok")
        ended = rec["ended_us"] / 1e6
        self.assertTrue(os.path.isdir(run_dir(self.d, rid)))
        # Several passes run while it is young: it stays.
        time.sleep(3)
        self.assertTrue(exists(self.d, rid))
        end = time.time() + 30
        while time.time() < end and exists(self.d, rid):
            time.sleep(0.1)
        gone_at = time.time()
        self.assertFalse(exists(self.d, rid), "never deleted: " + self.d.log())
        self.assertGreaterEqual(gone_at - ended, self.AGE_S - 0.2)
        end = time.time() + 5
        while time.time() < end and os.path.exists(run_dir(self.d, rid)):
            time.sleep(0.05)
        self.assertFalse(os.path.exists(run_dir(self.d, rid)))
        # A new run is not touched by the next passes.
        rid2 = self.d.call("play_run_async", source="print('again')\n", profile="trusted")["run_id"]
        self.assertEqual(self.d.call("play_wait", run_id=rid2, timeout_ms=20000)["status"], "ok")
        time.sleep(2)
        self.assertTrue(exists(self.d, rid2))
        self.assertGreater(rid2, rid)


class RetentionFlagsTest(unittest.TestCase):
    def test_help_documents_the_flags(self):
        out = subprocess.run([BIN, "serve", "--help"], capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 0)
        for flag in ("--retain-days", "--retain-mb", "--retain-interval"):
            self.assertIn(flag, out.stdout)

    def test_bad_values_are_refused(self):
        for args in (["--retain-days", "-1"], ["--retain-days", "x"], ["--retain-mb", "-5"],
                     ["--retain-interval", "0"]):
            out = subprocess.run([BIN, "serve", "--data", "/nonexistent/never", *args],
                                 capture_output=True, text=True, timeout=10)
            self.assertEqual(out.returncode, 2, (args, out.stderr))
            self.assertIn("--retain", out.stderr)


if __name__ == "__main__":
    unittest.main()
