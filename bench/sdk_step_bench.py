"""SDK cost benchmark (SPEC §10): ns per `with flow.step()` (start + end) writing into a real
socketpair drained by a thread, against a bare `with contextlib.nullcontext()`.
Run: PYTHONPATH=py /usr/bin/python3 bench/sdk_step_bench.py [--steps N] [--rounds R]"""

import os
import socket
import sys
import threading
import time

ROUNDS = 31
STEPS = 20000


def _args():
    steps, rounds = STEPS, ROUNDS
    argv = sys.argv[1:]
    for i, a in enumerate(argv):
        if a == "--steps":
            steps = int(argv[i + 1])
        elif a == "--rounds":
            rounds = int(argv[i + 1])
    return steps, rounds


def _drain(sock, counter):
    n = 0
    while True:
        b = sock.recv(1 << 20)
        if not b:
            break
        n += b.count(b"\n")
    counter.append(n)


def _pct(sorted_vals, p):
    return sorted_vals[min(len(sorted_vals) - 1, int(round(p * (len(sorted_vals) - 1))))]


def main():
    steps, rounds = _args()
    parent, child = socket.socketpair()
    os.environ["HERO_FLOW_SPAN_FD"] = str(child.fileno())
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(os.path.dirname(here), "py"))
    import contextlib
    import hero_tracing
    from hero_tracing import flow
    assert flow.active, "channel not connected"
    lines = []
    t = threading.Thread(target=_drain, args=(parent, lines), daemon=True)
    t.start()
    step = flow.step
    null = contextlib.nullcontext
    perf = time.perf_counter_ns

    def bench_null():
        t0 = perf()
        for _ in range(steps):
            with null():
                pass
        return (perf() - t0) / steps

    def bench_step():
        t0 = perf()
        for _ in range(steps):
            with step("s"):
                pass
        return (perf() - t0) / steps

    @flow(name="bench")
    def run():
        with flow.step("outer"):
            nulls, spans = [], []
            for _ in range(rounds):
                nulls.append(bench_null())
                spans.append(bench_step())
            return sorted(nulls), sorted(spans)

    nulls, spans = run()
    hero_tracing.flush()
    # Events written while measuring: 2 per step.
    os.close(child.fileno())
    child.detach()
    hero_tracing._fd = -1
    hero_tracing._active = False
    print("nullcontext_ns_median %.0f" % _pct(nulls, 0.5))
    print("nullcontext_ns_p95 %.0f" % _pct(nulls, 0.95))
    print("step_ns_median %.0f" % _pct(spans, 0.5))
    print("step_ns_p95 %.0f" % _pct(spans, 0.95))
    print("step_overhead_ns_median %.0f" % (_pct(spans, 0.5) - _pct(nulls, 0.5)))
    print("event_ns_median %.0f" % (_pct(spans, 0.5) / 2))
    print("steps_per_round %d rounds %d" % (steps, rounds))


if __name__ == "__main__":
    main()
