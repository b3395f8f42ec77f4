"""Writes the golden span fixtures (tests/fixtures/spans/*.ndjson) by running the flows in
tests/py/fixture_flows through the real SDK and boot module with a deterministic clock
(HERO_TRACING_FAKE_CLOCK=1: ts from 1700000000000000 in steps of 10, pid 4242, cpu_us and
rss_kb 0). The C++ span_listener tests parse the same files.
Run: PYTHONPATH=py /usr/bin/python3 tests/py/make_fixtures.py [OUT_DIR]"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

# fixture name -> (flow file in fixture_flows/, extra boot args, expected exit code)
FIXTURES = {
    "simple_flow": ("simple_flow.py", ["--input", '{"name": "world"}'], 0),
    "nested_steps": ("nested_steps.py", [], 0),
    "failed_step": ("failed_step.py", [], 1),
    "rpc_instrument": ("rpc_instrument.py", [], 0),
    "logs_and_tags": ("logs_and_tags.py", [], 0),
    "plain_script": ("plain_script.py", [], 1),
    "threads": ("threads.py", [], 0),
}


def generate(name):
    """The NDJSON bytes of one fixture."""
    flow_file, args, want_rc = FIXTURES[name]
    r = harness.run_child(["-m", "hero_tracing.boot", flow_file] + args,
                          cwd=harness.FIXTURE_FLOWS, env={"HERO_TRACING_FAKE_CLOCK": "1"})
    if r.rc != want_rc:
        raise RuntimeError("fixture %s: boot exited %d, want %d\n%s" % (
            name, r.rc, want_rc, r.stderr))
    return r.raw


def main(argv):
    out_dir = argv[0] if argv else harness.FIXTURES
    os.makedirs(out_dir, exist_ok=True)
    for name in FIXTURES:
        path = os.path.join(out_dir, name + ".ndjson")
        with open(path, "wb") as f:
            f.write(generate(name))
        print("wrote", path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
