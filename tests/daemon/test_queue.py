"""The run queue: --concurrency 1 makes the second run wait `queued` with a position."""
import unittest

from daemon_harness import DaemonTestCase, src

SLEEP = src('''
    import time
    from hero_tracing import flow
    @flow(name="nap")
    def nap(s=0.6):
        time.sleep(s)
''')


class QueueTest(DaemonTestCase):
    DAEMON_ARGS = ("--concurrency", "1")

    def test_second_run_is_queued_then_runs(self):
        a = self.d.call("play_run_async", source=SLEEP, profile="trusted")["run_id"]
        b = self.d.call("play_run_async", source=SLEEP, profile="trusted")["run_id"]
        c = self.d.call("play_run_async", source=SLEEP, profile="trusted")["run_id"]
        sb = self.d.call("play_status", run_id=b)
        self.assertEqual(sb["status"], "queued")
        self.assertEqual(sb["queue_position"], 1)
        self.assertEqual(self.d.call("play_status", run_id=c)["queue_position"], 2)
        listed = {r["id"]: r for r in self.d.call("play_list", status="queued")["runs"]}
        self.assertIn(b, listed)
        # cancel a queued run: it ends at once and never starts
        self.assertEqual(self.d.call("play_cancel", run_id=c)["status"], "cancelled")
        self.assertEqual(self.d.call("play_wait", run_id=a, timeout_ms=20000)["status"], "ok")
        rb = self.d.call("play_wait", run_id=b, timeout_ms=20000)
        self.assertEqual(rb["status"], "ok")
        ra = self.d.call("play_status", run_id=a)
        self.assertGreaterEqual(rb["started_us"], ra["ended_us"])
        rc = self.d.call("play_status", run_id=c)
        self.assertEqual((rc["status"], rc["started_us"]), ("cancelled", 0))
        metrics = self.d.http("GET", "/metrics")[1].decode()
        self.assertIn("hero_queue_length 0", metrics)


if __name__ == "__main__":
    unittest.main()
