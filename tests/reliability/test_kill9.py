"""Daemon killed mid-load: `kill -9` of `hero_logic serve` at a random instant while 10
concurrent runs emit spans, then a restart on the same data dir. Acknowledged is what
docs/RELIABILITY.md defines: a terminal status the API answered, and every row committed to
SQLite (a read-only observer of the database sees only committed transactions). Rounds:
HERO_KILL9_ROUNDS (default 3; `scripts/stress.sh kill9 [ROUNDS]` runs 20)."""
import os
import random
import tempfile
import time
import unittest

from rely_common import (SPANNER, TERMINAL, UID_BASE, UID_COUNT, Daemon, DbObserver, descendants,
                         has_live_daemon_ancestor, open_db, proc_stat, proc_uid, all_pids,
                         wait_until)

ROUNDS = int(os.environ.get("HERO_KILL9_ROUNDS", "3"))
RUNS = 10


class Kill9Test(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="hero-rely-")
        os.chmod(self._tmp.name, 0o755)
        self.data = os.path.join(self._tmp.name, "data")
        self.rng = random.Random(int(os.environ.get("HERO_KILL9_SEED", str(time.time_ns()))))

    def tearDown(self):
        self._tmp.cleanup()

    def test_kill9_at_random_instants_loses_nothing_acknowledged(self):
        d = Daemon(self.data, "--concurrency", "16", "--shutdown-grace", "1")
        summary = []
        try:
            for rnd in range(ROUNDS):
                summary.append(self.one_round(d, rnd))
        finally:
            if d.proc.poll() is None:
                d.stop()
        print("\nkill9 rounds (kill at s, acknowledged runs, committed spans seen, "
              "interrupted):", summary)

    def one_round(self, d, rnd):
        obs = DbObserver(self.data)
        procs = {}  # pid -> (starttime, uid): every process of the runs seen before the kill
        acked = {}  # run id -> terminal status the API answered
        spec = {}  # run id -> n steps

        def track():
            for p in descendants(d.proc.pid):
                st, uid = proc_stat(p), proc_uid(p)
                if st and uid is not None and p not in procs:
                    procs[p] = (st[2], uid)

        for _ in range(RUNS):
            n = self.rng.randint(5, 80)
            # Both profiles: trusted children outlive a killed daemon until the restart's uid
            # sweep; untrusted ones die with bwrap (--die-with-parent).
            rid = d.call("play_run_async", source=SPANNER,
                         profile=self.rng.choice(["trusted", "untrusted"]),
                         input={"n": n, "pause": self.rng.choice([0.01, 0.02, 0.04])})["run_id"]
            spec[rid] = n
            track()
        delay = self.rng.uniform(0.05, 2.5)
        kill_at = time.time() + delay
        while time.time() < kill_at:
            track()
            obs.poll()
            for rid in spec:
                if rid not in acked:
                    st = d.call("play_status", run_id=rid)["status"]
                    if st in TERMINAL:
                        acked[rid] = st
            time.sleep(0.01)
        track()
        obs.poll()  # everything seen here was committed before the kill
        obs.close()
        seen_spans = {k: v for k, v in obs.spans.items() if k[0] in spec}
        seen_logs = {k: v for k, v in obs.logs.items() if k[0] in spec}
        d.kill9()
        old_uids = {uid for _, uid in procs.values() if UID_BASE <= uid < UID_BASE + UID_COUNT}

        d.start()
        ctx = "round %d, kill after %d acknowledged runs, %s" % (rnd, len(acked), d.log()[-1500:])
        # Every run terminal or interrupted; acknowledged statuses unchanged.
        statuses = {rid: d.call("play_status", run_id=rid)["status"] for rid in spec}
        for rid, st in statuses.items():
            self.assertIn(st, TERMINAL, "run %d: %s" % (rid, ctx))
            if rid in acked:
                self.assertEqual(st, acked[rid], "acknowledged run %d changed: %s" % (rid, ctx))
            else:
                self.assertIn(st, {"interrupted", acked.get(rid, st)}, ctx)
        db = open_db(self.data)
        try:
            self.assertEqual(db.execute("PRAGMA integrity_check").fetchall(), [("ok",)], ctx)
            ids = ",".join(str(r) for r in spec)
            rows = db.execute("SELECT run_id, seq, span_id, name, parent_id, status FROM spans "
                              "WHERE run_id IN (%s)" % ids).fetchall()
            now = {(r[0], r[1]): (r[2], r[3], r[4]) for r in rows}
            # 0 committed spans lost (same id, name and parent), 0 duplicated.
            lost = [k for k, v in seen_spans.items() if now.get(k) != v]
            self.assertEqual(lost, [], "committed spans lost or changed: " + ctx)
            dup = db.execute("SELECT run_id, span_id, COUNT(*) FROM spans WHERE run_id IN (%s) "
                             "GROUP BY run_id, span_id HAVING COUNT(*) > 1" % ids).fetchall()
            self.assertEqual(dup, [], "duplicated spans: " + ctx)
            logs = dict(((r[0], r[1]), r[2]) for r in db.execute(
                "SELECT run_id, seq, text FROM span_logs WHERE run_id IN (%s)" % ids))
            self.assertEqual([k for k, v in seen_logs.items() if logs.get(k) != v], [],
                             "committed logs lost: " + ctx)
            ldup = db.execute("SELECT run_id, span_seq, text, COUNT(*) FROM span_logs WHERE "
                              "run_id IN (%s) GROUP BY 1, 2, 3 HAVING COUNT(*) > 1" % ids).fetchall()
            self.assertEqual(ldup, [], "duplicated logs: " + ctx)
            self.assertEqual([r for r in rows if r[5] == "running"], [], "span left running")
            # A run that ended ok reported all its steps (root + n), each once.
            for rid, st in statuses.items():
                if st == "ok":
                    self.assertEqual(sum(1 for k in now if k[0] == rid), spec[rid] + 1,
                                     "run %d: %s" % (rid, ctx))
        finally:
            db.close()
        # 0 processes of the old runs alive: neither the pids seen nor anything else of their
        # uids (unless a live supervisor, e.g. another test's, leased the uid since).
        def leftovers():
            left = [p for p, (start, _) in procs.items()
                    if (proc_stat(p) or (0, 0, None))[2] == start]
            for p in all_pids():
                if proc_uid(p) in old_uids and p not in left and not has_live_daemon_ancestor(p):
                    left.append(p)
            return left
        wait_until(lambda: not leftovers(), 3)
        self.assertEqual(leftovers(), [], "processes of killed runs alive: " + ctx)
        # The restarted daemon runs new work.
        rid = d.call("play_run_async", source=SPANNER, profile="trusted",
                     input={"n": 3, "pause": 0})["run_id"]
        self.assertEqual(d.call("play_wait", run_id=rid, timeout_ms=20000)["status"], "ok")
        return (round(delay, 2), len(acked), len(seen_spans),
                sum(1 for s in statuses.values() if s == "interrupted"))


if __name__ == "__main__":
    unittest.main()
