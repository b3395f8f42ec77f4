"""Daemon lifecycle: kill -9 during a run, restart -> the run is `interrupted`; SIGTERM is
graceful (no new runs, running ones get the grace period, then end `interrupted`)."""
import os
import signal
import tempfile
import time
import unittest

from daemon_harness import Daemon, RpcError, src

LONG = src('''
    import time
    from hero_tracing import flow
    @flow(name="long")
    def long(s=3):
        with flow.step("wait"):
            time.sleep(s)
''')


class RestartTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="hero-daemon-")
        os.chmod(self._tmp.name, 0o755)
        self.data = os.path.join(self._tmp.name, "data")

    def tearDown(self):
        self._tmp.cleanup()

    def test_kill9_then_restart_marks_run_interrupted(self):
        d = Daemon(self.data)
        rid = d.call("play_run_async", source=LONG, profile="trusted", input={"s": 2})["run_id"]
        end = time.time() + 10
        while d.call("play_status", run_id=rid)["status"] != "running" and time.time() < end:
            time.sleep(0.05)
        time.sleep(0.3)
        d.kill9()
        d.start()
        try:
            rec = d.call("play_status", run_id=rid)
            self.assertEqual(rec["status"], "interrupted", rec)
            for s in _walk(d.call("play_spans", run_id=rid)):
                self.assertNotEqual(s["status"], "running")
            # the daemon works after the restart
            rid2 = d.call("play_run_async", source="print(2)\n", profile="trusted")["run_id"]
            self.assertGreater(rid2, rid)
            self.assertEqual(d.call("play_wait", run_id=rid2, timeout_ms=20000)["status"], "ok")
        finally:
            self.assertEqual(d.stop(), 0)

    def test_sigterm_is_graceful(self):
        d = Daemon(self.data, "--shutdown-grace", "1")
        quick = d.call("play_run_async", source=LONG, profile="trusted", input={"s": 0.5})["run_id"]
        slow = d.call("play_run_async", source=LONG, profile="trusted", input={"s": 30})["run_id"]
        end = time.time() + 10
        while d.call("play_status", run_id=slow)["status"] != "running" and time.time() < end:
            time.sleep(0.05)
        d.proc.send_signal(signal.SIGTERM)
        time.sleep(0.1)
        with self.assertRaises(RpcError) as cm:
            d.call("play_run_async", source="print(1)\n", profile="trusted")
        self.assertEqual(cm.exception.code, -32016)
        self.assertIn("shutting down", cm.exception.message)
        self.assertEqual(d.stop(), 0)
        d.start()
        try:
            self.assertEqual(d.call("play_status", run_id=quick)["status"], "ok")
            rec = d.call("play_status", run_id=slow)
            self.assertEqual(rec["status"], "interrupted", rec)
        finally:
            self.assertEqual(d.stop(), 0)


def _walk(n):
    yield n
    for c in n["children"]:
        yield from _walk(c)


if __name__ == "__main__":
    unittest.main()


class BuiltinFlowsTest(unittest.TestCase):
    def test_builtins_load_idempotently_and_never_overwrite_a_user_version(self):
        with tempfile.TemporaryDirectory(prefix="hero-daemon-") as t:
            os.chmod(t, 0o755)
            flows = os.path.join(t, "flows")
            os.makedirs(flows)
            path = os.path.join(flows, "greeter.py")

            def write(desc):
                with open(path, "w") as f:
                    f.write(src('''
                        from hero_tracing import flow
                        @flow(name="greeter", description="%s")
                        def greeter():
                            return {"hi": 1}
                    ''' % desc))

            write("v one")
            d = Daemon(os.path.join(t, "data"), flows_dir=flows)
            try:
                g = d.call("flow_get", name="greeter")
                self.assertEqual((g["version"], g["description"]), (1, "v one"))
                self.assertIn("builtin", g["tags"])
                self.assertEqual(d.stop(), 0)
                d.start()  # unchanged file: no new version
                self.assertEqual(d.call("flow_get", name="greeter")["versions"], [1])
                write("v two")
                self.assertEqual(d.stop(), 0)
                d.start()  # changed builtin: a new version
                self.assertEqual(d.call("flow_get", name="greeter")["description"], "v two")
                # a user's version is never replaced by the directory
                d.call("flow_update", name="greeter", source="print('mine')\n")
                write("v three")
                self.assertEqual(d.stop(), 0)
                d.start()
                g = d.call("flow_get", name="greeter")
                self.assertEqual((g["version"], g["source"]), (3, "print('mine')\n"))
            finally:
                self.assertEqual(d.stop(), 0)
