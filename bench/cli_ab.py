"""Two hero_logic binaries side by side on `hero_logic run` of a small script, interleaved
(A, B, A, B, ...) so that the machine's load hits both alike: wall time and CPU time of the
whole process tree (getrusage of the waited-for children), per profile.

  python3 bench/cli_ab.py build/hero_old build/hero_logic [--runs 20] [--script FILE]

Each binary must sit in a build dir (it finds hero_launcher beside itself) and uses its own
data dir. The first 4 rounds are warm-up and not counted."""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--script", help="the script to run (default: `pass`)")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="hero_cli_ab_")
    script = args.script
    if script is None:
        script = os.path.join(work, "empty.py")
        with open(script, "w") as f:
            f.write("pass\n")
    res = {}
    for i in range(args.runs + 4):
        for label, binary in (("A", args.a), ("B", args.b)):
            for prof in ("trusted", "untrusted"):
                r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                w0 = time.monotonic()
                p = subprocess.run([binary, "run", script, "--profile", prof, "--quiet", "--data",
                                    os.path.join(work, label)], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)
                wall = time.monotonic() - w0
                r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                if p.returncode != 0:
                    sys.exit("%s %s: exit %d: %s" % (binary, prof, p.returncode, p.stderr[-300:]))
                cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
                if i >= 4:
                    res.setdefault((prof, label), []).append((wall * 1e3, cpu * 1e3))
    print("%-10s %-3s %10s %10s" % ("profile", "bin", "wall p50", "cpu p50"))
    for (prof, label), v in sorted(res.items()):
        print("%-10s %-3s %7.1f ms %7.1f ms" % (prof, label, statistics.median(x[0] for x in v),
                                                statistics.median(x[1] for x in v)))
    print("A = %s, B = %s, %d interleaved runs each" % (args.a, args.b, args.runs))


if __name__ == "__main__":
    main()
