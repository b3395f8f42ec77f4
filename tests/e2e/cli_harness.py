"""Shared helpers for the CLI end-to-end tests: run hero_logic in a fresh data dir."""
import json
import os
import subprocess
import tempfile
import textwrap
import unittest

BIN = os.environ.get("HERO_LOGIC_BIN", "build/hero_logic")
REPO = os.environ.get("HERO_REPO", os.getcwd())


class CliTestCase(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="hero-e2e-")
        self.data = os.path.join(self._tmp.name, "data")
        self.files = os.path.join(self._tmp.name, "files")
        os.makedirs(self.files)
        os.chmod(self._tmp.name, 0o755)
        os.chmod(self.files, 0o755)

    def tearDown(self):
        self._tmp.cleanup()

    def write_flow(self, name, source):
        path = os.path.join(self.files, name)
        with open(path, "w") as f:
            f.write(textwrap.dedent(source))
        os.chmod(path, 0o644)
        return path

    def cli(self, *args, timeout=120, env=None):
        e = dict(os.environ)
        e["HERO_LOGIC_DATA"] = self.data
        e["NO_COLOR"] = "1"
        if env:
            e.update(env)
        return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=timeout,
                              env=e, stdin=subprocess.DEVNULL)

    def run_json(self, path, *args, timeout=120):
        p = self.cli("run", path, "--json", *args, timeout=timeout)
        try:
            doc = json.loads(p.stdout)
        except ValueError:
            self.fail(f"stdout is not one JSON document (rc={p.returncode}):\n{p.stdout}\n--- stderr\n{p.stderr}")
        return p, doc

    def walk(self, node):
        yield node
        for c in node["children"]:
            yield from self.walk(c)

    def assert_no_span_running(self, doc):
        for s in self.walk(doc["tree"]):
            self.assertNotEqual(s["status"], "running", s)
            self.assertIsNotNone(s["end_us"], s)
