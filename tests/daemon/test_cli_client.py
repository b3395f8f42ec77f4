"""CLI client commands against a real daemon: flows add/list/search, cancel, show --follow,
run --remote, and the message when no daemon listens."""
import os
import subprocess
import tempfile
import time
import unittest

from daemon_harness import BIN, DaemonTestCase, src

STEPS = src('''
    import time
    from hero_tracing import flow
    @flow(name="stepper", description="Counts in visible steps")
    def stepper(n=3, dt=0.05):
        """Counts slowly."""
        for i in range(n):
            with flow.step("count %d" % i):
                print("at", i)
                time.sleep(dt)
        return {"n": n}
''')


class CliClientTest(DaemonTestCase):
    def cli(self, *args, timeout=60):
        env = dict(os.environ, NO_COLOR="1")
        return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=timeout, env=env,
                              stdin=subprocess.DEVNULL)

    def sock(self):
        return ["--socket", self.d.sock]

    def write(self, name, text):
        path = os.path.join(self.d.data, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_flows_add_list_search(self):
        path = self.write("stepper.py", STEPS)
        p = self.cli("flows", "add", path, *self.sock())
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("added flow stepper version 1", p.stdout)
        p = self.cli("flows", "add", path, *self.sock())
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("updated flow stepper version 2", p.stdout)
        p = self.cli("flows", "list", *self.sock())
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"stepper\s+2\s+Counts in visible steps")
        p = self.cli("flows", "search", "counts", "--limit", "3", *self.sock())
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("stepper", p.stdout)
        p = self.cli("flows", "bogus", *self.sock())
        self.assertEqual(p.returncode, 2)

    def test_show_follow_prints_live_tree_and_exits_with_run_code(self):
        rid = self.d.call("play_run_async", source=STEPS, profile="trusted", input={"n": 4, "dt": 0.1})["run_id"]
        p = self.cli("show", str(rid), "--follow", *self.sock())
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        for i in range(4):
            self.assertIn("count %d" % i, p.stdout)
        self.assertIn("at 3", p.stdout)
        bad = self.d.call("play_run_async", source="raise ValueError('x')\n", profile="trusted")["run_id"]
        p = self.cli("show", str(bad), "--follow", *self.sock())
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)

    def test_cancel(self):
        rid = self.d.call("play_run_async", source=STEPS, profile="trusted", input={"n": 1, "dt": 30})["run_id"]
        self.wait_status(rid, {"running"})
        p = self.cli("cancel", str(rid), *self.sock())
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("run %d" % rid, p.stdout)
        self.assertEqual(self.d.call("play_wait", run_id=rid, timeout_ms=10000)["status"], "cancelled")
        p = self.cli("cancel", "99999", *self.sock())
        self.assertEqual(p.returncode, 1)
        self.assertIn("run 99999 not found", p.stderr)

    def test_run_remote(self):
        path = self.write("remote.py", STEPS)
        p = self.cli("run", path, "--remote", "--input", '{"n": 2}', *self.sock())
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("count 1", p.stdout)

    def test_help_on_every_client_command(self):
        for cmd in (["serve"], ["cancel"], ["flows"], ["show"], ["run"]):
            p = self.cli(*cmd, "--help")
            self.assertEqual(p.returncode, 0, cmd)
            self.assertIn("usage: hero_logic", p.stdout)

    def test_no_daemon_message(self):
        with tempfile.TemporaryDirectory() as t:
            missing = os.path.join(t, "none.sock")
            for args in (["flows", "list"], ["cancel", "1"], ["show", "1", "--follow"]):
                p = self.cli(*args, "--socket", missing)
                self.assertEqual(p.returncode, 1, args)
                self.assertIn("no hero_logic daemon is listening", p.stderr)
                self.assertIn("hero_logic serve", p.stderr)


if __name__ == "__main__":
    unittest.main()
