"""The installed copy (`cmake --install` of this build into a temporary prefix), run from an
unrelated directory with the source tree (and the build directory inside it) hidden under an
empty tmpfs in a private mount namespace: it must still run a trusted and an untrusted flow,
serve the web UI and the dashboard, and pass `smoke --offline`. A binary that opened anything
in the checkout would find nothing there and fail."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "daemon"))
from daemon_harness import Daemon  # noqa: E402

BUILD = os.environ.get("HERO_BUILD_DIR", "build")
REPO = os.path.realpath(os.environ.get("HERO_REPO", os.getcwd()))
FLOW = """from hero_tracing import flow

@flow
def greet(name: str = "x"):
    with flow.step("say"):
        print("hello", name)
    return {"greeting": "hello " + name}
"""


def can_hide_source():
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "--mount", "true"], capture_output=True).returncode == 0


@unittest.skipUnless(can_hide_source(), "needs root and unshare --mount to hide the source tree")
class InstalledCopyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hero_install_")
        assert not cls.tmp.startswith(REPO + "/"), "the temporary prefix must be outside the checkout"
        cls.prefix = os.path.join(cls.tmp, "prefix")
        p = subprocess.run(["cmake", "--install", BUILD, "--prefix", cls.prefix],
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stdout + p.stderr
        cls.cwd = os.path.join(cls.tmp, "elsewhere")
        os.makedirs(cls.cwd)
        with open(os.path.join(cls.cwd, "greet.py"), "w") as f:
            f.write(FLOW)
        # Runs a command with the checkout replaced by an empty read-only tmpfs.
        cls.hide = os.path.join(cls.tmp, "hide_source.sh")
        with open(cls.hide, "w") as f:
            f.write('#!/bin/sh\nexec unshare --mount --propagation private sh -c '
                    '\'mount -t tmpfs -o ro,mode=0555 hidden "$0" && cd "$1" && shift && exec "$@"\' '
                    '"%s" "%s" "$@"\n' % (REPO, cls.cwd))
        os.chmod(cls.hide, 0o755)
        cls.bin = os.path.join(cls.prefix, "bin", "hero_logic")
        # The installed hero_logic behind the same curtain (for the daemon harness).
        cls.hidden_bin = os.path.join(cls.tmp, "hidden_hero_logic.sh")
        with open(cls.hidden_bin, "w") as f:
            f.write('#!/bin/sh\nexec "%s" "%s" "$@"\n' % (cls.hide, cls.bin))
        os.chmod(cls.hidden_bin, 0o755)
        cls.data = os.path.join(cls.tmp, "data")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def hidden(self, *args, timeout=300):
        env = {k: v for k, v in os.environ.items() if not k.startswith("HERO_")}
        return subprocess.run([self.hide, self.bin, *args], capture_output=True, text=True,
                              timeout=timeout, env=env)

    def test_layout(self):
        share = os.path.join(self.prefix, "share", "hero_logic")
        for rel in ("bin/hero_logic", "lib/hero_logic/hero_launcher",
                    "share/hero_logic/py/hero_tracing/__init__.py",
                    "share/hero_logic/py/hero_tracing/boot.py",
                    "share/hero_logic/builtin_flows/model_call.py",
                    "share/hero_logic/builtin_flows/smoke.json",
                    "share/hero_logic/fixtures/model_server.py",
                    "share/hero_logic/grafana/hero_logic.json"):
            self.assertTrue(os.path.exists(os.path.join(self.prefix, rel)), rel)
        self.assertFalse(os.path.exists(os.path.join(self.prefix, "bin", "hero_launcher")))
        self.assertEqual([], [r for r, _, fs in os.walk(share) for f in fs if f.endswith(".pyc")])

    def test_hiding_really_hides_the_checkout(self):
        p = subprocess.run([self.hide, "ls", "-A", REPO], capture_output=True, text=True)
        self.assertEqual((p.returncode, p.stdout), (0, ""), p.stderr)

    def test_version_names_the_commit(self):
        p = self.hidden("--version")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"^hero_logic \d+\.\d+\.\d+ \(commit ([0-9a-f]{7,}(-dirty)?|unknown)\)\n$")

    def test_help_is_unchanged(self):
        p = self.hidden("serve", "--help")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(p.stdout.startswith("usage: hero_logic serve [options]"))

    def run_flow(self, profile):
        p = self.hidden("run", "greet.py", "--profile", profile, "--json", "--quiet",
                        "--input", '{"name": "ops"}', "--data", self.data)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        doc = json.loads(p.stdout)
        self.assertEqual(doc["run"]["status"], "ok", doc["run"])
        self.assertEqual(doc["run"]["output"], {"greeting": "hello ops"})
        self.assertEqual([c["name"] for c in doc["tree"]["children"]], ["say"])

    def test_trusted_flow(self):
        self.run_flow("trusted")

    def test_untrusted_flow(self):
        self.run_flow("untrusted")

    def test_daemon_serves_builtins_ui_and_dashboard(self):
        d = Daemon(os.path.join(self.tmp, "daemon"), "--pool", "0", binary=self.hidden_bin,
                   flows_dir=os.path.join(self.prefix, "share", "hero_logic", "builtin_flows"))
        try:
            names = {f["name"] for f in d.call("flow_list")}
            self.assertIn("model_call", names)
            status, body = d.http("GET", "/dashboards/hero_logic.json")
            self.assertEqual(status, 200)
            self.assertEqual(json.loads(body)["uid"], "hero-logic")
            if not os.path.exists(os.path.join(REPO, "supervisor", "web", "dist", "index.html")):
                print("SKIPPED web UI check: supervisor/web/dist was not built (npm), so it is "
                      "not installed", flush=True)
                return
            status, body = d.http("GET", "/")
            self.assertEqual(status, 200)
            self.assertIn(b"<html", body.lower())
        finally:
            self.assertEqual(d.stop(), 0, d.log())

    def test_smoke_offline(self):
        p = self.hidden("smoke", "--offline", timeout=500)
        self.assertEqual(p.returncode, 0, p.stdout[-3000:] + p.stderr[-3000:])
        self.assertRegex(p.stdout, r"fixture")


if __name__ == "__main__":
    unittest.main()
