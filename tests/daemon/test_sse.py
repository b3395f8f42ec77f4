"""GET /api/runs/{id}/events: live span events, `end`, resume with Last-Event-ID."""
import time
import unittest

from daemon_harness import DaemonTestCase, SseReader, src

TICKER = src('''
    import time
    from hero_tracing import flow
    @flow(name="ticker")
    def ticker(n=12, dt=0.1):
        for i in range(n):
            with flow.step("tick %d" % i):
                print("tick", i)
                time.sleep(dt)
''')


class SseTest(DaemonTestCase):
    def test_live_span_events_then_end(self):
        rid = self.d.call("play_run_async", source=TICKER, profile="trusted", input={"n": 5})["run_id"]
        r = SseReader(self.d.port, rid)
        self.assertEqual(r.status, 200)
        got = list(r.events(until=lambda e: e[1] == "end"))
        r.close()
        kinds = [e[1] for e in got]
        self.assertEqual(kinds[-1], "end")
        self.assertEqual(got[-1][2]["status"], "ok")
        self.assertEqual(got[-1][2]["exit_code"], 0)
        self.assertIn("span", kinds)
        self.assertIn("log", kinds)
        self.assertEqual(kinds[-2], "status")
        ids = [e[0] for e in got]
        self.assertEqual(ids, sorted(ids))
        self.assertEqual(len(ids), len(set(ids)))
        ticks = {e[2]["name"] for e in got if e[1] == "span"}
        self.assertLessEqual({"tick 0", "tick 4"}, ticks)
        logs = [e[2] for e in got if e[1] == "log"]
        self.assertEqual(logs[0]["text"], "tick 0\n")
        self.assertTrue(logs[0]["span_id"])

    def test_span_events_arrive_while_running(self):
        rid = self.d.call("play_run_async", source=TICKER, profile="trusted", input={"n": 20, "dt": 0.1})["run_id"]
        r = SseReader(self.d.port, rid)
        first = next(e for e in r.events() if e[1] == "span")
        self.assertEqual(self.d.call("play_status", run_id=rid)["status"], "running")
        r.close()
        self.d.call("play_cancel", run_id=rid)
        self.d.call("play_wait", run_id=rid, timeout_ms=10000)
        self.assertIsNotNone(first[0])

    def test_resume_with_last_event_id_no_gap_no_duplicate(self):
        rid = self.d.call("play_run_async", source=TICKER, profile="trusted", input={"n": 15, "dt": 0.08})["run_id"]
        r = SseReader(self.d.port, rid)
        part1 = []
        for e in r.events():
            part1.append(e)
            if len([x for x in part1 if x[1] == "span"]) >= 6:
                break
        r.close()  # disconnect mid-run
        self.assertEqual(self.d.call("play_status", run_id=rid)["status"], "running")
        time.sleep(0.3)  # events happen while disconnected
        last = part1[-1][0]
        r2 = SseReader(self.d.port, rid, last_id=last)
        part2 = list(r2.events(until=lambda e: e[1] == "end"))
        r2.close()
        ids = [e[0] for e in part1 + part2]
        self.assertEqual(ids, list(range(1, len(ids) + 1)), "gap or duplicate in %s" % ids)
        self.assertEqual(part2[-1][1], "end")
        self.assertNotIn("reset", [e[1] for e in part2])
        # resuming right after the end replays exactly what is left (nothing, then close)
        r3 = SseReader(self.d.port, rid, last_id=ids[-1])
        self.assertEqual(list(r3.events(deadline=5)), [])
        r3.close()
        # and from the middle of a finished run's retained log
        r4 = SseReader(self.d.port, rid, last_id=ids[-3])
        self.assertEqual([e[0] for e in r4.events(deadline=5)], ids[-2:])
        r4.close()

    def test_unknown_run_is_404(self):
        r = SseReader(self.d.port, 999999)
        self.assertEqual(r.status, 404)
        r.close()


class SseSnapshotTest(DaemonTestCase):
    def test_finished_run_of_a_previous_daemon_is_replayed_from_the_store(self):
        rid = self.d.call("play_run_async", source=TICKER, profile="trusted", input={"n": 3, "dt": 0})["run_id"]
        self.d.call("play_wait", run_id=rid, timeout_ms=20000)
        self.assertEqual(self.d.stop(), 0)
        self.d.start()
        r = SseReader(self.d.port, rid)
        got = list(r.events(until=lambda e: e[1] == "end"))
        r.close()
        kinds = [e[1] for e in got]
        self.assertEqual(kinds.count("span"), 4)
        self.assertEqual(kinds.count("log"), 3)
        self.assertEqual(kinds[-2:], ["status", "end"])
        self.assertEqual([e[0] for e in got], list(range(1, len(got) + 1)))


if __name__ == "__main__":
    unittest.main()
