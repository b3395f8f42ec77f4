"""Output-capture cost of the SDK (issue 15 item 7): runs a printer under
`python3 -m hero_tracing.boot` with a span socket this process drains (no supervisor), then the
same printer directly with stdout to /dev/null, and prints both CPU times. CPU, not wall time:
the development machine is shared, and the wall clock there says more about the neighbours.

    python3 bench/capture_bench.py [LINES]     (default 500,000 lines of 100 bytes)
"""
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRINTER = '''
def main():
    pad = "x" * 85
    for i in range(%d):
        print(f"line {i:09d} {pad}")

if __name__ == "__main__":
    main()
'''


def child_cpu(before):
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime - before


def main():
    lines = int(sys.argv[1]) if len(sys.argv) > 1 else 500_000
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(PRINTER % lines)
    try:
        base = child_cpu(0)
        t0 = time.time()
        subprocess.run(["/usr/bin/python3", f.name], stdout=subprocess.DEVNULL, check=True)
        direct_wall, direct_cpu = time.time() - t0, child_cpu(base)

        a, b = socket.socketpair()
        env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "py"),
                   HERO_FLOW_SPAN_FD=str(b.fileno()))
        base = child_cpu(0)
        t0 = time.time()
        p = subprocess.Popen(["/usr/bin/python3", "-m", "hero_tracing.boot", f.name], env=env,
                             pass_fds=[b.fileno()], stdout=subprocess.DEVNULL)
        b.close()
        got = events = 0
        while True:
            d = a.recv(1 << 20)
            if not d:
                break
            got += len(d)
            events += d.count(b"\n")
        p.wait()
        sdk_wall, sdk_cpu = time.time() - t0, child_cpu(base)
    finally:
        os.unlink(f.name)
    print("lines %d: direct cpu %.2f s (wall %.2f); under the SDK cpu %.2f s (wall %.2f), "
          "%d events, %.1f MB on the channel; ratio cpu %.2fx"
          % (lines, direct_cpu, direct_wall, sdk_cpu, sdk_wall, events, got / 1e6,
             sdk_cpu / max(direct_cpu, 1e-9)))


if __name__ == "__main__":
    main()
