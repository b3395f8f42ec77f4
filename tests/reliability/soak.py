"""Soak (scripts/soak.sh; not in the default run): a daemon on a temp data dir runs a mix at
concurrency 8 for MINUTES: the built-in flows with their smoke inputs (against the
recorded-answer model server fixture), this suite's span flows, and hostile scripts
(../shared/escape from the repo root, tests/escape/cases) in the untrusted profile. Samples
the daemon's RSS, fd and thread counts; prints them over time, the RSS slope (least squares
over the second half), and fails (exit 1) if a run was not terminal after its wait, the
daemon died, or a process of a run outlived the soak.

    python3 tests/reliability/soak.py MINUTES [--concurrency 8] [--sample-s 10]
"""
import argparse
import glob
import json
import os
import shutil
import random
import subprocess
import sys
import tempfile
import threading
import time

from rely_common import (SPANNER, TERMINAL, Daemon, RpcError, fd_count, rss_kb, run_leftovers,
                         threads, wait_until)

REPO = os.environ.get("HERO_REPO", os.path.abspath(os.path.join(os.path.dirname(__file__), "..",
                                                                 "..")))


def start_model_server():
    p = subprocess.Popen([sys.executable, os.path.join(REPO, "tests/fixtures/model_server.py"),
                          "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True)
    line = p.stdout.readline()
    url = line.strip().rsplit(" ", 1)[-1]
    if not url.startswith("http"):
        p.kill()
        raise SystemExit("model server fixture did not start: %r" % line)
    return p, url


def jobs(model_url):
    """[(label, rpc params)]"""
    out = []
    smoke = json.load(open(os.path.join(REPO, "builtin_flows/smoke.json")))
    services = os.path.join(REPO, "builtin_flows/services")

    def subst(v):
        s = json.dumps(v).replace("${HERO_AIBROKER_URL}", model_url)
        return json.loads(s.replace("${SERVICES_DIR}", services))
    for c in smoke["cases"]:
        out.append(("builtin:" + c["name"], {"flow": c["flow"], "input": subst(c["input"]),
                                             "timeout_ms": 60000}))
    for n, pause in ((5, 0), (200, 0), (40, 0.02)):
        out.append(("spanner:%d" % n, {"source": SPANNER, "profile": "trusted",
                                       "input": {"n": n, "pause": pause}}))
    hostile = sorted(glob.glob(os.path.join(REPO, "../shared/escape/*.py")) +
                     glob.glob(os.path.join(REPO, "tests/escape/cases/*.py")))
    for path in hostile:
        with open(path) as f:
            out.append(("hostile:" + os.path.basename(path),
                        {"source": f.read(), "profile": "untrusted", "timeout_ms": 15000}))
    return out, smoke.get("setup", []), subst


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("minutes", type=float, nargs="?", default=60)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--sample-s", type=float, default=0)
    a = ap.parse_args()
    duration = a.minutes * 60
    sample_s = a.sample_s or max(5.0, min(60.0, duration / 30))

    model, url = start_model_server()
    tmp = tempfile.mkdtemp(prefix="hero-soak-")
    os.chmod(tmp, 0o755)
    d = Daemon(os.path.join(tmp, "data"), "--concurrency", str(a.concurrency),
               flows_dir=os.path.join(REPO, "builtin_flows"))
    pid = d.proc.pid
    work, setup, subst = jobs(url)
    for s in setup:
        try:
            d.call(s["method"], **subst(s["params"]))
        except RpcError:
            if not s.get("optional"):
                raise
    hostile = sum(1 for w in work if w[0].startswith("hostile:"))
    print("soak: %.1f min, concurrency %d, %d job kinds (%d hostile), daemon pid %d, data %s" %
          (a.minutes, a.concurrency, len(work), hostile, pid, tmp), flush=True)

    lock = threading.Lock()
    stats = {"runs": 0, "by_status": {}, "not_terminal": [], "errors": [], "by_job": {}}
    end = time.time() + duration

    def worker(k):
        r = random.Random(k)
        while time.time() < end:
            label, params = r.choice(work)
            try:
                rid = d.call("play_run_async", **params)["run_id"]
                rec = d.call("play_wait", run_id=rid, timeout_ms=120000, _timeout=130)
            except Exception as e:  # noqa: BLE001 - any failure to talk to the daemon counts
                with lock:
                    stats["errors"].append("%s: %r" % (label, e))
                if d.proc.poll() is not None:
                    return
                time.sleep(0.5)
                continue
            with lock:
                stats["runs"] += 1
                st = rec["status"]
                stats["by_status"][st] = stats["by_status"].get(st, 0) + 1
                kind = label.split(":")[0]
                stats["by_job"][kind] = stats["by_job"].get(kind, 0) + 1
                if st not in TERMINAL:
                    stats["not_terminal"].append((rid, label, st))

    ws = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(a.concurrency)]
    for w in ws:
        w.start()
    samples = []
    t0 = time.time()
    print("%8s %8s %6s %5s %7s" % ("t_s", "rss_kib", "fds", "thr", "runs"), flush=True)
    while time.time() < end and d.proc.poll() is None:
        with lock:
            n = stats["runs"]
        s = (time.time() - t0, rss_kb(pid), fd_count(pid), threads(pid), n)
        samples.append(s)
        print("%8.0f %8d %6d %5d %7d" % s, flush=True)
        time.sleep(min(sample_s, max(0.1, end - time.time())))
    for w in ws:
        w.join(timeout=180)
    alive = d.proc.poll() is None
    if alive:
        wait_until(lambda: not run_leftovers(d)[0], 20)
    left = run_leftovers(d)[0] if alive else []
    if alive:
        time.sleep(1)
        samples.append((time.time() - t0, rss_kb(pid), fd_count(pid), threads(pid), stats["runs"]))
        print("%8.0f %8d %6d %5d %7d  (idle, after the last run)" % samples[-1], flush=True)

    loaded = samples[:-1] if alive and len(samples) > 2 else samples  # without the idle one
    half = loaded[len(loaded) // 2:]
    slope = 0.0
    if len(half) >= 2:
        xs, ys = [s[0] / 3600 for s in half], [s[1] / 1024 for s in half]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        den = sum((x - mx) ** 2 for x in xs)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else 0.0
    fds, thr = [s[2] for s in samples], [s[3] for s in samples]
    print("soak: %d runs %s by kind %s; RSS %.1f -> %.1f MiB, slope over the second half "
          "%+.1f MiB/h; fds min %d max %d, last %d; threads min %d max %d, last %d" %
          (stats["runs"], stats["by_status"], stats["by_job"], samples[0][1] / 1024,
           samples[-1][1] / 1024, slope, min(fds), max(fds), fds[-1], min(thr), max(thr),
           thr[-1]), flush=True)
    ok = True
    if not alive:
        print("soak: FAIL: the daemon died (rc %s): %s" % (d.proc.returncode, d.log()))
        ok = False
    if stats["not_terminal"]:
        print("soak: FAIL: runs not terminal after their wait: %s" % stats["not_terminal"][:20])
        ok = False
    if stats["errors"]:
        print("soak: FAIL: %d RPC errors, e.g. %s" % (len(stats["errors"]), stats["errors"][:5]))
        ok = False
    if left:
        print("soak: FAIL: processes of runs left below the daemon: %s" % left)
        ok = False
    if alive:
        rc = d.stop()
        if rc != 0:
            print("soak: FAIL: daemon exit code %s" % rc)
            ok = False
    model.terminate()
    model.wait()
    if ok:
        # An hour leaves gigabytes of run records and directories: gone on a pass, kept on a
        # failure for inspection.
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print("soak: data kept for inspection: %s" % tmp)
    print("soak: %s" % ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
