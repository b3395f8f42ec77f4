"""Storage faults on a real small tmpfs data dir (mount -t tmpfs -o size=24m): the disk fills
up while runs stream spans. The daemon must not crash; the store reports unhealthy in
/healthz and /metrics; span intake pauses (backpressure: pending rows stay bounded, nothing is
dropped); new runs are refused with a clear error; once space returns every span and log
line the runs sent is committed, the runs end ok and the health is ok again."""
import errno
import json
import os
import subprocess
import tempfile
import time
import unittest

from rely_common import SPANNER, Daemon, RpcError, open_db, wait_until

SIZE_MB = 24
STEPS = 2500  # per run: 2,501 spans + 2,500 log lines, past the 4,000-row backpressure mark
PAUSE = 0.002  # per step: a run streams for ~5 s, so it is still streaming when the disk fills
               # (with no pause a warm-pool run of the ASan build ended before the fill)


def mount_tmpfs(path, size_mb):
    if os.geteuid() != 0:
        return "not root: mount -t tmpfs needs CAP_SYS_ADMIN"
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm,mode=755" % size_mb, "tmpfs",
                        path], capture_output=True, text=True)
    return None if r.returncode == 0 else "mount -t tmpfs not permitted: " + r.stderr.strip()


def fill(path):
    """Writes a file until ENOSPC; returns its size."""
    n = 0
    with open(path, "wb", buffering=0) as f:
        chunk = b"\0" * (1 << 16)
        while True:
            try:
                n += f.write(chunk)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                break
        # the last bytes: tmpfs may still take a partial chunk
        for size in (4096, 512, 1):
            try:
                while True:
                    n += f.write(b"\0" * size)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
    return n


def metric(d, name):
    _, body = d.http("GET", "/metrics")
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise KeyError(name)


class StorageFaultTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="hero-rely-")
        os.chmod(self._tmp.name, 0o755)
        self.mnt = os.path.join(self._tmp.name, "mnt")
        os.makedirs(self.mnt)
        why = mount_tmpfs(self.mnt, SIZE_MB)
        if why:
            self.skipTest(why)
        self.mounted = True

    def tearDown(self):
        if getattr(self, "mounted", False):
            subprocess.run(["umount", "-l", self.mnt])
        self._tmp.cleanup()

    def test_disk_full_pauses_intake_and_recovers_without_dropping(self):
        data = os.path.join(self.mnt, "data")
        d = Daemon(data, "--concurrency", "8")
        try:
            self.check(d, data)
        finally:
            if d.proc.poll() is None:
                self.assertEqual(d.stop(), 0, d.log())

    def check(self, d, data):
        rid = d.call("play_run_async", source=SPANNER, profile="trusted",
                     input={"n": 3, "pause": 0})["run_id"]
        self.assertEqual(d.call("play_wait", run_id=rid, timeout_ms=20000)["status"], "ok")
        self.assertEqual(d.http("GET", "/healthz")[0], 200)

        # Runs that stream thousands of rows; once they are streaming, fill the disk.
        runs = [d.call("play_run_async", source=SPANNER, profile="trusted",
                       input={"n": STEPS, "pause": PAUSE}, timeout_ms=120000)["run_id"]
                for _ in range(3)]
        for r in runs:
            wait_until(lambda: d.call("play_status", run_id=r)["status"] != "queued", 10)
        filler = os.path.join(self.mnt, "filler")
        filled = fill(filler)

        # Unhealthy, visibly: /healthz 503 with the reason, hero_store_healthy 0.
        def unhealthy():
            st, body = d.http("GET", "/healthz")
            return (st, body) if st != 200 else None
        bad = wait_until(unhealthy, 30)
        self.assertTrue(bad, "the store never reported the full disk: " + d.log())
        st, body = bad
        self.assertEqual(st, 503, body)
        self.assertIn("full", body.decode().lower(), body)
        self.assertEqual(metric(d, "hero_store_healthy"), 0)
        # Backpressure: the runs stay running (blocked in write), rows pending stay bounded,
        # nothing is dropped.
        time.sleep(2)
        self.assertIsNotNone(unhealthy())
        for r in runs:
            self.assertEqual(d.call("play_status", run_id=r)["status"], "running", d.log())
        health = json.loads(unhealthy()[1])
        self.assertFalse(health["ok"])
        self.assertIn("span intake paused", health["error"], health)
        self.assertIn(" 0 dropped", health["error"], health)
        pending = metric(d, "hero_store_pending_rows")
        self.assertGreater(pending, 0)
        self.assertLessEqual(pending, 4000 + 3 * 1100)  # backpressure_rows + what was in flight
        self.assertEqual(metric(d, "hero_store_dropped_rows_total"), 0)
        self.assertEqual(metric(d, "hero_dropped_events_total"), 0)
        # Intake: a new run is refused with a clear error (its record cannot be written).
        with self.assertRaises(RpcError) as cm:
            d.call("play_run_async", source=SPANNER, profile="trusted", input={"n": 1})
        self.assertRegex(cm.exception.message.lower(), "full|space", cm.exception.message)
        refused = cm.exception.message

        # Space returns: everything commits, the runs finish ok, health is ok again.
        os.unlink(filler)
        for r in runs:
            rec = d.call("play_wait", run_id=r, timeout_ms=120000)
            self.assertEqual(rec["status"], "ok", rec)
        self.assertTrue(wait_until(lambda: d.http("GET", "/healthz")[0] == 200, 10), d.log())
        self.assertEqual(metric(d, "hero_store_healthy"), 1)
        self.assertEqual(metric(d, "hero_dropped_events_total"), 0)
        db = open_db(data)
        try:
            for r in runs:
                spans = db.execute("SELECT COUNT(*) FROM spans WHERE run_id=?", (r,)).fetchone()
                logs = db.execute("SELECT COUNT(*) FROM span_logs WHERE run_id=?", (r,)).fetchone()
                self.assertEqual((spans[0], logs[0]), (STEPS + 1, STEPS), "run %d" % r)
                drops = db.execute("SELECT dropped_spans, dropped_log_bytes FROM runs WHERE id=?",
                                   (r,)).fetchone()
                self.assertEqual(drops, (0, 0))
            self.assertEqual(db.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
        finally:
            db.close()
        rid = d.call("play_run_async", source=SPANNER, profile="trusted",
                     input={"n": 3, "pause": 0})["run_id"]
        self.assertEqual(d.call("play_wait", run_id=rid, timeout_ms=20000)["status"], "ok")
        print("\nstorage: filled %d KiB; %d rows pending while full; refusal: %r; health: %r" %
              (filled // 1024, pending, refused, health["error"]))


if __name__ == "__main__":
    unittest.main()
