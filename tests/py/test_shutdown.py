"""Interpreter shutdown under the SDK (issue #19): daemon threads that print through the
capture, or hold the SDK's locks, when the interpreter finalizes. CPython ends a daemon
thread the next time it takes the GIL after finalization starts, so a thread that was
blocked in a write (or waiting for a lock) dies holding what it held. The supervisor's
pipes and span socket are read slowly here (throttle), which keeps the printing threads
blocked in writes almost all the time: before the fix these runs hung forever (a lock held
by a dead thread) or aborted ("could not acquire lock for <stdout> at interpreter
shutdown")."""

import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

# The reproducer from the issue: three daemon threads print 200 KB lines forever; the main
# thread returns after 0.2 s. Exits 0 under plain python3.
SPAMMERS = """
    import threading, time
    def spam():
        big = "y" * 200000 + "\\n"
        while True:
            print(big, end="")
    for _ in range(3):
        threading.Thread(target=spam, daemon=True).start()
    time.sleep(0.2)
    print("main done")
"""

# The same through a step: flow.thread carries the step's context, so the daemon threads
# keep writing span_log events on the span socket while the interpreter shuts down.
STEP_SPAMMERS = """
    import time
    from hero_tracing import flow
    def spam(n):
        line = "z%d" % n * 3000 + "\\n"
        while True:
            print(line, end="")
    @flow(name="spammers")
    def spammers():
        with flow.step("noisy"):
            for n in range(3):
                t = flow.thread(spam, n)
                t.daemon = True
                t.start()
            time.sleep(0.2)
        print("main done")
        return {"ok": True}
"""

# stderr and small lines: the capture's partial-line path and the other stream.
STDERR_SPAMMERS = """
    import sys, threading, time
    def spam():
        while True:
            sys.stderr.write("e" * 700)
            sys.stderr.write("\\n")
    for _ in range(4):
        threading.Thread(target=spam, daemon=True).start()
    time.sleep(0.2)
    print("main done")
"""

# A forked child with a printing daemon thread exits through normal finalization.
FORKED = """
    import os, threading, time
    def spam():
        while True:
            print("f" * 5000)
    pid = os.fork()
    if pid == 0:
        for _ in range(2):
            threading.Thread(target=spam, daemon=True).start()
        time.sleep(0.2)
        raise SystemExit(0)
    _, status = os.waitpid(pid, 0)
    print("child status", os.waitstatus_to_exitcode(status))
"""

ROUNDS = 6
LIMIT_S = 15


class ShutdownTest(unittest.TestCase):
    def setUp(self):
        self.files = harness.FlowFiles()

    def tearDown(self):
        self.files.cleanup()

    def boot_rounds(self, source, throttle=0.002):
        runs = []
        for i in range(ROUNDS):
            try:
                r = harness.run_boot(self.files, source, timeout=LIMIT_S, throttle=throttle)
            except subprocess.TimeoutExpired:
                self.fail("round %d: the process did not exit within %d s after the flow "
                          "returned (shutdown hang)" % (i, LIMIT_S))
            self.assertEqual(r.rc, 0, "round %d: rc %s, stderr tail %r"
                             % (i, r.rc, r.stderr[-600:].replace("y" * 100, "")))
            self.assertNotIn("Fatal Python error", r.stderr)
            runs.append(r)
        return runs

    def test_daemon_threads_printing_at_exit_do_not_hang_or_abort(self):
        for r in self.boot_rounds(SPAMMERS):
            end = r.ends()[r.root()["id"]]
            self.assertEqual(end["status"], "ok")
            self.assertIn("main done\n", r.logs(r.root()["name"]))

    def test_daemon_threads_logging_into_a_step_at_exit(self):
        for r in self.boot_rounds(STEP_SPAMMERS):
            self.assertEqual(r.ends()[r.root()["id"]]["status"], "ok")
            self.assertEqual(r.result(), {"ok": True})

    def test_daemon_threads_writing_stderr_at_exit(self):
        for r in self.boot_rounds(STDERR_SPAMMERS):
            self.assertEqual(r.ends()[r.root()["id"]]["status"], "ok")
            self.assertIn("main done\n", r.logs(r.root()["name"], "stdout"))

    def test_forked_child_with_printing_daemon_threads_exits(self):
        for r in self.boot_rounds(FORKED):
            self.assertIn("child status 0\n", r.logs(r.root()["name"]))

    def test_lock_holder_frozen_at_finalization(self):
        # The window made wide: every write on the channel takes 50 ms with the GIL released
        # (the flow patches os.write, which the SDK looks up at call time), and a daemon
        # thread logs without pause, so the SDK's channel lock is held by a sleeping writer
        # nearly all the time. When finalization starts that writer dies holding the lock:
        # before the fix the final flush of sys.stdout waited for it forever.
        for r in self.boot_rounds("""
            import os, threading, time
            real_write = os.write
            def slow_write(fd, data):
                time.sleep(0.05)
                return real_write(fd, data)
            os.write = slow_write
            from hero_tracing import flow
            def chatter():
                while True:
                    print("x" * 100000)
            @flow(name="frozen")
            def frozen():
                with flow.step("chatty"):
                    t = flow.thread(chatter)   # logs into the step, on the channel
                    t.daemon = True
                    t.start()
                    time.sleep(0.3)
                print("main done")
        """, throttle=None):
            self.assertEqual(r.ends()[r.root()["id"]]["status"], "ok")

    def test_shutdown_stops_and_joins_the_flusher(self):
        r = harness.run_boot(self.files, """
            import atexit, sys
            import hero_tracing as ht
            print("flusher running:", ht._flusher_running())
            def after():
                ht._shutdown()
                sys.stdout.write("after shutdown: %s\\n" % ht._flusher_running())
                print("printed after shutdown")
            atexit.register(after)
        """, timeout=LIMIT_S)
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertIn("flusher running: True", r.logs(r.root()["name"]))
        # After _shutdown the captures write straight to the process's stdout.
        self.assertIn("after shutdown: False\nprinted after shutdown\n", r.stdout)


if __name__ == "__main__":
    unittest.main()
