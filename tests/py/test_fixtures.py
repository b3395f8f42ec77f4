"""Golden fixtures: regenerating tests/fixtures/spans/*.ndjson with the current SDK must give
the checked-in bytes (the C++ span_listener tests parse those files). On a mismatch,
run `PYTHONPATH=py /usr/bin/python3 tests/py/make_fixtures.py` and review the diff."""

import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import make_fixtures  # noqa: E402


class GoldenFixtureTest(unittest.TestCase):
    def test_regenerated_fixtures_match_checked_in_bytes(self):
        with tempfile.TemporaryDirectory() as out:
            make_fixtures_main_quiet(out)
            for name in make_fixtures.FIXTURES:
                with self.subTest(fixture=name):
                    want_path = os.path.join(harness.FIXTURES, name + ".ndjson")
                    self.assertTrue(os.path.exists(want_path), want_path)
                    with open(want_path, "rb") as f:
                        want = f.read()
                    with open(os.path.join(out, name + ".ndjson"), "rb") as f:
                        got = f.read()
                    self.assertEqual(got.decode(), want.decode(),
                                     "%s drifted; rerun tests/py/make_fixtures.py" % name)

    def test_fixtures_follow_the_wire_contract(self):
        required = {
            "hello": {"v": int, "sdk": str, "pid": int},
            "span_start": {"id": str, "name": str, "kind": str, "ts": int},
            "span_tag": {"id": str, "tags": dict},
            "span_log": {"id": str, "ts": int, "stream": str, "text": str},
            "span_end": {"id": str, "ts": int, "status": str},
            "result": {"output": object},
        }
        optional = {"tags": dict, "file": str, "line": int, "rpc_service": str,
                    "rpc_method": str, "child_run_id": int, "error": str, "error_type": str,
                    "traceback": str, "cpu_us": int, "rss_kb": int}
        for name in make_fixtures.FIXTURES:
            with open(os.path.join(harness.FIXTURES, name + ".ndjson"), "rb") as f:
                raw = f.read()
            self.assertTrue(raw.endswith(b"\n"))
            events = [json.loads(line) for line in raw.decode().splitlines()]
            self.assertEqual(events[0]["type"], "hello")
            roots = set()
            for e in events:
                fields = required[e["type"]]
                for k, t in fields.items():
                    self.assertIn(k, e, (name, e))
                    self.assertIsInstance(e[k], t, (name, k, e))
                for k, t in optional.items():
                    if k in e and e["type"] != "hello":
                        self.assertIsInstance(e[k], t, (name, k, e))
                if e["type"] == "span_start":
                    self.assertIn(e["kind"], ("flow_root", "step", "rpc", "subflow", "other"))
                    self.assertTrue(e["parent"] is None or isinstance(e["parent"], str))
                    if e["parent"] is None:
                        roots.add(e["id"])
                if e["type"] == "span_end":
                    self.assertIn(e["status"], ("ok", "failed", "cancelled"))
                if e["type"] == "span_log":
                    self.assertIn(e["stream"], ("stdout", "stderr", "log"))
            self.assertEqual(len(roots), 1, name)


def make_fixtures_main_quiet(out):
    for name in make_fixtures.FIXTURES:
        with open(os.path.join(out, name + ".ndjson"), "wb") as f:
            f.write(make_fixtures.generate(name))


if __name__ == "__main__":
    unittest.main()
