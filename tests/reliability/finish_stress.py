"""Runs that finished must end when their script does (issue #19): many short runs, trusted
and untrusted, through the CLI (`hero_logic run`) and through a daemon's `script_run`, two at
a time while a CPU burner keeps the machine busy. A run is *hung* when its wall time (as the
caller sees it) exceeds its script's own duration by more than --slack seconds, or when it
does not end `ok`. Prints the counts and every hung run; exits 1 if there is one.

  python3 tests/reliability/finish_stress.py --runs 10000     (scripts/stress.sh finish)
  python3 tests/reliability/finish_stress.py --runs 240       (the default test run)
Needs HERO_LOGIC_BIN (the built binary) and HERO_REPO, as the other reliability tests."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "daemon"))
from daemon_harness import BIN, Daemon  # noqa: E402

# (name, own seconds, source). Each ends by itself in `own` seconds under plain python3.
SCRIPTS = [
    ("empty", 0.0, "pass\n"),
    ("print", 0.0, "for i in range(50):\n    print('line', i)\n"),
    ("flow", 0.0, "from hero_tracing import flow\n"
                  "@flow(name='steps')\n"
                  "def steps():\n"
                  "    for i in range(20):\n"
                  "        with flow.step('s%d' % i):\n"
                  "            print(i)\n"
                  "    return {'n': 20}\n"),
    # The reproducer: daemon threads printing while the main thread ends. Lines of
    # 4 KB with a 2 ms pause keep the pipes and the span socket busy at exit without making
    # the run's output (stored, and rendered by the CLI) dominate its wall time.
    ("spammers", 0.2, "import threading, time\n"
                      "def spam():\n"
                      "    big = 'y' * 4000 + '\\n'\n"
                      "    while True:\n"
                      "        print(big, end='')\n"
                      "        time.sleep(0.002)\n"
                      "for _ in range(3):\n"
                      "    threading.Thread(target=spam, daemon=True).start()\n"
                      "time.sleep(0.2)\n"
                      "print('main done')\n"),
    ("sleep", 0.3, "import time\ntime.sleep(0.3)\nprint('slept')\n"),
]
MODES = ["cli-trusted", "cli-untrusted", "rpc-untrusted"]
# wall: as the caller saw it; root: the root span; record: the run record, created -> ended.
HUNG_FMT = "  run #%d %s %s id=%s status=%s wall=%.3f s root=%.3f s record=%.3f s %s"


class Stress:
    def __init__(self, args, work):
        self.args = args
        self.work = work
        self.lock = threading.Lock()
        self.done = 0
        self.hung = []
        self.slow_scripts = 0   # root span itself > own + slack (not an exit problem)
        self.by_mode = {m: [] for m in MODES}   # overheads (s)
        self.files = {}
        for name, _, source in SCRIPTS:
            path = os.path.join(work, name + ".py")
            with open(path, "w") as f:
                f.write(source)
            self.files[name] = path
        self.daemon = Daemon(os.path.join(work, "daemon"), "--pool", str(args.pool))

    def one(self, i, k):
        mode = MODES[i % len(MODES)]
        name, own, source = SCRIPTS[(i // len(MODES)) % len(SCRIPTS)]
        timeout_s = own + self.args.slack + 10
        t0 = time.monotonic()
        status, rid, extra, root_s, run_s = "?", None, "", 0.0, 0.0
        if mode.startswith("cli"):
            profile = mode.split("-")[1]
            p = subprocess.run([BIN, "run", self.files[name], "--profile", profile,
                                "--timeout", str(timeout_s), "--json", "--data",
                                os.path.join(self.work, "cli-%d" % k)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                doc = json.loads(p.stdout)
                run = doc["run"]
                status, rid = run["status"], run["id"]
                root_s = root_seconds(doc["tree"])
                run_s = (run["ended_us"] - run["created_us"]) / 1e6
                extra = run.get("reason", "")
            except (ValueError, KeyError):
                status, extra = "no-json", "rc %d: %s" % (p.returncode, p.stderr[-300:])
        else:
            try:
                r = self.daemon.call("script_run", _timeout=timeout_s + 30, source=source,
                                     timeout_ms=int(timeout_s * 1000))
                status, rid = r["status"], r.get("run_id")
                root_s = root_seconds(r.get("tree"))
                run_s = (r.get("duration_ms") or 0) / 1e3
                extra = r.get("reason", "")
            except Exception as e:  # noqa: BLE001 - any failure is counted and shown
                status, extra = "error", str(e)[:200]
        wall = time.monotonic() - t0
        # The script's own time is what it declares or, if longer, what its root span took
        # (the script from start to return, e.g. slowed by the CPU burner): the exit path is
        # what is measured here.
        over = wall - max(own, root_s)
        with self.lock:
            self.done += 1
            self.by_mode[mode].append(over)
            if root_s > own + self.args.slack:
                self.slow_scripts += 1
            if status != "ok" or over > self.args.slack + self.args.base:
                h = (i, mode, name, rid, status, wall, root_s, run_s, extra)
                self.hung.append(h)
                print(HUNG_FMT % h, flush=True)
            if self.args.progress and self.done % self.args.progress == 0:
                print("  %d/%d runs, %d hung" % (self.done, self.args.runs, len(self.hung)),
                      flush=True)

    def worker(self, k, counter):
        while True:
            with self.lock:
                i = counter[0]
                counter[0] += 1
            if i >= self.args.runs:
                return
            self.one(i, k)

    def run(self):
        burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        counter = [0]
        t0 = time.monotonic()
        try:
            ts = [threading.Thread(target=self.worker, args=(k, counter))
                  for k in range(self.args.parallel)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
        finally:
            burner.kill()
            burner.wait()
            self.daemon.stop()
        return time.monotonic() - t0


def root_seconds(tree):
    if not tree or not tree.get("end_us"):
        return 0.0
    return (tree["end_us"] - tree["start_us"]) / 1e6


def pct(xs, q):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10000)
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--slack", type=float, default=1.0,
                    help="seconds a run may take beyond its script's own time (default 1)")
    ap.add_argument("--base", type=float, default=0.0,
                    help="extra allowance for start-up on a slow build (ASan), default 0")
    ap.add_argument("--pool", type=int, default=0, help="the daemon's warm pool (default off)")
    ap.add_argument("--progress", type=int, default=0, help="print progress every N runs")
    ap.add_argument("--keep", action="store_true", help="keep the data dirs")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="hero_finish_")
    s = Stress(args, work)
    elapsed = s.run()
    print("finish stress: %d runs in %.0f s, %d at a time under a CPU burner, slack %.1f s"
          % (s.done, elapsed, args.parallel, args.slack))
    for m in MODES:
        xs = s.by_mode[m]
        print("  %-14s %5d runs  overhead p50 %.3f s  p99 %.3f s  max %.3f s"
              % (m, len(xs), pct(xs, 0.5), pct(xs, 0.99), max(xs) if xs else float("nan")))
    print("scripts slower than their own time by > slack (root span, not the exit): %d"
          % s.slow_scripts)
    print("hung runs: %d" % len(s.hung))
    for h in s.hung[:50]:
        print(HUNG_FMT % h)
    if s.hung:
        print("data kept in %s" % work)
        return 1
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
