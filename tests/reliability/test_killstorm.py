"""Child kill storm: short runs whose processes (launcher, python, anything below the daemon)
get an external SIGKILL at a random instant. Every run must reach one terminal status, once:
the SSE event log of each run has exactly one terminal `status` event, as its last status,
then one `end`; the status the API acknowledged is the one in the database; the daemon's
hero_runs_total grows by exactly N. Afterwards: 0 zombies, no process left below the daemon,
the daemon's fd count back to its baseline (+2) and RSS within +16 MiB of it.
HERO_KILLSTORM_RUNS (default 1,000, ~20 s on 2 cores; `scripts/stress.sh killstorm [N]`)."""
import os
import random
import signal
import tempfile
import threading
import time
import unittest

from rely_common import (_cmdline, Daemon, TERMINAL, descendants, fd_count, open_db, proc_stat, rss_kb,
                         run_leftovers, src, sse_replay, threads, wait_until, zombies_of)

RUNS = int(os.environ.get("HERO_KILLSTORM_RUNS", "1000"))
FD_SLACK = 2
RSS_SLACK_KB = 16 * 1024

SHORT = src('''
    import time
    from hero_tracing import flow
    @flow(name="short")
    def short(n=4, pause=0.03):
        for i in range(n):
            with flow.step("s%d" % i):
                time.sleep(pause)
        return {"n": n}
''')


def runs_total(d):
    _, body = d.http("GET", "/metrics")
    return sum(int(l.split()[-1]) for l in body.decode().splitlines()
               if l.startswith("hero_runs_total{"))


class Killer(threading.Thread):
    """Watches the daemon's descendants; each new one gets SIGKILL after a random delay of
    0-350 ms (so some die in the launcher, some in Python's start, some mid-span, some are
    already gone)."""

    def __init__(self, daemon_pid, rng):
        super().__init__(daemon=True)
        self.pid, self.rng = daemon_pid, rng
        self.stop_ev = threading.Event()
        self.sent = 0
        self.due = {}  # (pid, starttime) -> when

    def run(self):
        while not self.stop_ev.is_set():
            now = time.time()
            for p in descendants(self.pid):
                st = proc_stat(p)
                if st and st[0] != "Z" and (p, st[2]) not in self.due:
                    self.due[(p, st[2])] = now + self.rng.uniform(0, 0.35)
            for (p, start), when in list(self.due.items()):
                if when is not None and when <= now:
                    self.due[(p, start)] = None
                    st = proc_stat(p)
                    if st and st[2] == start and st[0] != "Z":
                        try:
                            os.kill(p, signal.SIGKILL)
                            self.sent += 1
                        except ProcessLookupError:
                            pass
            time.sleep(0.005)


class KillStormTest(unittest.TestCase):
    def test_kill_storm_gives_one_terminal_transition_per_run_and_no_leak(self):
        rng = random.Random(int(os.environ.get("HERO_KILLSTORM_SEED", str(time.time_ns()))))
        with tempfile.TemporaryDirectory(prefix="hero-rely-") as tmp:
            os.chmod(tmp, 0o755)
            data = os.path.join(tmp, "data")
            d = Daemon(data, "--concurrency", "8")
            try:
                self.storm(d, data, rng)
            finally:
                self.assertEqual(d.stop(), 0, d.log())

    def storm(self, d, data, rng):
        pid = d.proc.pid
        # Warm-up: the heap, the runtime staging and the event logs reach their working size.
        warm = [d.call("play_run_async", source=SHORT, profile="trusted")["run_id"]
                for _ in range(30)]
        for rid in warm:
            self.assertEqual(d.call("play_wait", run_id=rid, timeout_ms=30000)["status"], "ok")
        time.sleep(0.5)
        base_fd, base_rss, base_thr = fd_count(pid), rss_kb(pid), threads(pid)
        base_total = runs_total(d)

        killer = Killer(pid, rng)
        killer.start()
        t0 = time.time()
        ids = [d.call("play_run_async", source=SHORT, profile="trusted",
                      input={"n": rng.randint(1, 6)})["run_id"] for _ in range(RUNS)]
        answers = {}
        try:
            for rid in ids:
                answers[rid] = d.call("play_wait", run_id=rid, timeout_ms=60000)
        finally:
            killer.stop_ev.set()
            killer.join()
        elapsed = time.time() - t0

        statuses = {}
        for rid, rec in answers.items():
            self.assertIn(rec["status"], TERMINAL, rec)
            self.assertTrue(rec["reason"] or rec["status"] == "ok", rec)
            statuses[rec["status"]] = statuses.get(rec["status"], 0) + 1
        # One terminal transition each: the counter of finished runs grew by exactly N ...
        self.assertEqual(runs_total(d) - base_total, RUNS)
        # ... the database holds the acknowledged status ...
        db = open_db(data)
        try:
            rows = dict(db.execute("SELECT id, status FROM runs WHERE id >= ?", (ids[0],)))
        finally:
            db.close()
        for rid, rec in answers.items():
            self.assertEqual(rows[rid], rec["status"], "run %d" % rid)
        # ... and each run's event log (the last 200 finished runs are kept in full) has one
        # terminal status event, as its last status, then exactly one `end`, last.
        for rid in ids[-200:]:
            evs, rest = sse_replay(d.port, rid)
            self.assertNotIn(b"event:", rest, rid)
            names = [e[1] for e in evs]
            st = [e[2]["status"] for e in evs if e[1] == "status"]
            self.assertEqual(sum(1 for s in st if s in TERMINAL), 1, (rid, st))
            self.assertIn(st[-1], TERMINAL, (rid, st))
            self.assertEqual(st[-1], answers[rid]["status"])
            self.assertEqual(names.count("end"), 1, (rid, names))
            self.assertEqual(names[-1], "end", (rid, names))
        killed_by_storm = sum(1 for rec in answers.values() if "SIGKILL" in rec["reason"] or
                              "signal" in rec["reason"])
        # The storm really hit: a good part of the runs died of it.
        self.assertGreater(killed_by_storm, RUNS // 5, statuses)

        # 0 zombies, nothing of the runs left, fds and RSS back to the baseline.
        self.assertEqual(wait_until(lambda: not zombies_of(pid), 5) and zombies_of(pid), [])
        wait_until(lambda: not run_leftovers(d)[0], 5)
        left = run_leftovers(d)[0]
        self.assertEqual(left, [], [(p, b" ".join(_cmdline(p))[:200], proc_stat(p)) for p in left])
        wait_until(lambda: fd_count(pid) <= base_fd + FD_SLACK, 5)
        fds, rss, thr = fd_count(pid), rss_kb(pid), threads(pid)
        print("\nkillstorm: %d runs in %.1f s, %d SIGKILLs sent, %d runs died of them; statuses "
              "%s; fds %d -> %d, RSS %d -> %d KiB, threads %d -> %d" %
              (RUNS, elapsed, killer.sent, killed_by_storm, statuses, base_fd, fds, base_rss,
               rss, base_thr, thr))
        self.assertLessEqual(fds, base_fd + FD_SLACK)
        if os.environ.get("HERO_SANITIZED"):
            # The ASan+UBSan stage (scripts/test.sh) runs the storm for its memory checks. RSS
            # is not comparable there: ASan's allocator holds freed blocks in its quarantine
            # and ignores malloc_trim, so the bound is checked in the normal build only.
            print("RSS bound not checked: sanitizer build (quarantine, no malloc_trim)")
        else:
            self.assertLessEqual(rss, base_rss + RSS_SLACK_KB)
        self.assertLessEqual(thr, base_thr + 2)


if __name__ == "__main__":
    unittest.main()
