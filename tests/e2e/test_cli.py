"""End-to-end: `hero_logic run/runs/show` on real flows (trusted profile)."""
import json
import os
import signal
import time
import unittest

from cli_harness import BIN, REPO, CliTestCase

SPAN_FIELDS = {"id", "name", "kind", "status", "start_us", "end_us", "tags", "error", "error_type",
               "traceback", "rpc_service", "rpc_method", "file", "line", "cpu_us", "rss_kb", "logs",
               "children"}
RUN_FIELDS = {"id", "flow", "flow_version", "parent_run", "parent_span", "input", "output", "status",
              "reason", "exit_code", "signal", "profile", "created_us", "started_us", "ended_us",
              "cpu_us", "peak_rss_kb", "span_count", "dropped", "diagnostics"}


class RunCommandTest(CliTestCase):
    def test_readme_demo_runs_ok_with_live_tree(self):
        # The exact command the README shows.
        p = self.cli("run", os.path.join(REPO, "examples/hello_flow.py"), "--input",
                     '{"name": "world", "steps": 3}')
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("✓", p.stdout)
        self.assertIn("ok", p.stdout.splitlines()[-1])

    def test_json_document_has_run_record_and_full_tree(self):
        flow = self.write_flow("f.py", """
            from hero_tracing import flow

            @flow(name="shape", inputs={"n": int})
            def shape(n):
                with flow.step("first", n=n):
                    print("in first")
                with flow.step("second") as s:
                    s.tag(extra=1)
                    with flow.step("inner"):
                        pass
                return {"double": n * 2}
            """)
        p, doc = self.run_json(flow, "--input", '{"n": 21}')
        self.assertEqual(p.returncode, 0, p.stderr)
        run, tree = doc["run"], doc["tree"]
        self.assertTrue(RUN_FIELDS <= set(run), RUN_FIELDS - set(run))
        self.assertEqual(run["status"], "ok")
        self.assertEqual(run["output"], {"double": 42})
        self.assertEqual(run["flow"], "shape")
        for s in self.walk(tree):
            self.assertTrue(SPAN_FIELDS <= set(s), SPAN_FIELDS - set(s))
        self.assertEqual(tree["kind"], "flow_root")
        self.assertEqual([c["name"] for c in tree["children"]], ["first", "second"])
        first, second = tree["children"]
        self.assertEqual(first["tags"].get("n"), 21)
        self.assertEqual(second["tags"].get("extra"), 1)
        self.assertEqual([c["name"] for c in second["children"]], ["inner"])
        self.assertEqual([l["text"] for l in first["logs"]], ["in first\n"])
        self.assertEqual(first["logs"][0]["stream"], "stdout")
        self.assertTrue(first["file"].endswith(".py"), first["file"])
        self.assertGreater(first["line"], 0)
        self.assert_no_span_running(doc)
        self.assertEqual(run["span_count"], 4)

    def test_failed_step_gives_exit_1_and_reason_naming_step(self):
        p, doc = self.run_json(os.path.join(REPO, "examples/failing_flow.py"))
        self.assertEqual(p.returncode, 1)
        self.assertEqual(doc["run"]["status"], "failed")
        self.assertIn("ValueError in step 'parse'", doc["run"]["reason"])
        failed = [s for s in self.walk(doc["tree"]) if s["name"] == "parse"][0]
        self.assertEqual(failed["status"], "failed")
        self.assertEqual(failed["error_type"], "ValueError")
        self.assertIn("Traceback", failed["traceback"])

    def test_plain_script_runs_as_one_root_span(self):
        script = self.write_flow("plain.py", """
            import sys
            print("hello from plain")
            print("to stderr", file=sys.stderr)
            """)
        p, doc = self.run_json(script)
        self.assertEqual(p.returncode, 0, p.stderr)
        tree = doc["tree"]
        self.assertEqual(tree["children"], [])
        texts = "".join(l["text"] for l in tree["logs"])
        self.assertIn("hello from plain", texts)
        self.assertIn("to stderr", texts)

    def test_plain_script_nonzero_exit_fails(self):
        script = self.write_flow("exit3.py", "import sys\nsys.exit(3)\n")
        p, doc = self.run_json(script)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(doc["run"]["status"], "failed")

    def test_timeout_and_sigterm_ignoring_flow(self):
        flow = self.write_flow("stubborn.py", """
            import signal, time
            from hero_tracing import flow

            @flow
            def stubborn():
                signal.signal(signal.SIGTERM, lambda *a: print("got SIGTERM", flush=True))
                with flow.step("sleep"):
                    while True:
                        time.sleep(0.1)
            """)
        t0 = time.monotonic()
        p, doc = self.run_json(flow, "--timeout", "1")
        elapsed = time.monotonic() - t0
        self.assertEqual(p.returncode, 124, p.stderr)
        self.assertEqual(doc["run"]["status"], "timed_out")
        self.assertEqual(doc["run"]["reason"], "wall-clock timeout 1 s")
        self.assertLess(elapsed, 1 + 2 + 3)  # timeout + grace + slack for start-up
        sleep = [s for s in self.walk(doc["tree"]) if s["name"] == "sleep"][0]
        self.assertEqual(sleep["status"], "timed_out")
        self.assert_no_span_running(doc)
        self.assertIn("got SIGTERM", json.dumps(doc))

    def test_flow_exiting_mid_span_closes_it_failed(self):
        flow = self.write_flow("midspan.py", """
            import os, time
            from hero_tracing import flow

            @flow
            def mid():
                with flow.step("doomed"):
                    time.sleep(0.1)  # let the SDK's background flush deliver the start
                    os._exit(0)
            """)
        p, doc = self.run_json(flow)
        doomed = [s for s in self.walk(doc["tree"]) if s["name"] == "doomed"][0]
        self.assertEqual(doomed["status"], "failed")
        self.assertEqual(doomed["error"], "process exited before the span ended")
        self.assert_no_span_running(doc)

    def test_flow_killed_by_sigkill(self):
        flow = self.write_flow("selfkill.py", """
            import os, signal
            from hero_tracing import flow

            @flow
            def selfkill():
                with flow.step("boom"):
                    os.kill(os.getpid(), signal.SIGKILL)
            """)
        p, doc = self.run_json(flow)
        self.assertEqual(p.returncode, 125)
        self.assertEqual(doc["run"]["status"], "killed")
        self.assertIn("SIGKILL", doc["run"]["reason"])
        self.assert_no_span_running(doc)

    def test_flow_closing_stdout_still_ends_ok(self):
        flow = self.write_flow("closeout.py", """
            import os
            from hero_tracing import flow

            @flow
            def closer():
                os.close(1)
                os.close(2)
                with flow.step("after"):
                    pass
                return 7
            """)
        p, doc = self.run_json(flow)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(doc["run"]["output"], 7)

    def test_daemon_started_by_flow_does_not_outlive_run(self):
        flow = self.write_flow("daemon.py", """
            import os, time, signal
            from hero_tracing import flow

            @flow
            def daemonize():
                r, w = os.pipe()
                if os.fork() == 0:
                    os.setsid()
                    if os.fork() == 0:
                        signal.signal(signal.SIGTERM, signal.SIG_IGN)
                        signal.signal(signal.SIGHUP, signal.SIG_IGN)
                        os.write(w, str(os.getpid()).encode())
                        os.close(w)
                        while True:
                            time.sleep(0.2)
                    os._exit(0)
                os.close(w)
                return {"daemon_pid": int(os.read(r, 32))}
            """)
        p, doc = self.run_json(flow)
        self.assertEqual(p.returncode, 0, p.stderr)
        pid = doc["run"]["output"]["daemon_pid"]
        deadline = time.monotonic() + 2
        alive = True
        while time.monotonic() < deadline:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                        alive = False
                        break
            except FileNotFoundError:
                alive = False
                break
            time.sleep(0.1)
        self.assertFalse(alive, f"daemon pid {pid} outlived its run")

    def test_child_sees_only_its_fds_and_scrubbed_env(self):
        flow = self.write_flow("fds.py", """
            import os
            from hero_tracing import flow

            @flow
            def fds():
                fds = []
                for x in os.listdir("/proc/self/fd"):
                    try:
                        os.readlink("/proc/self/fd/" + x)  # the listing's own fd is gone by now
                        fds.append(int(x))
                    except OSError:
                        pass
                return {"fds": sorted(fds), "env": sorted(os.environ)}
            """)
        p, doc = self.run_json(flow)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = doc["run"]["output"]
        self.assertEqual(out["fds"], [0, 1, 2, 3])
        for k in out["env"]:
            self.assertTrue(k in {"PATH", "HOME", "LANG", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE",
                                  "MALLOC_ARENA_MAX", "TMPDIR"} or k.startswith("HERO_FLOW_"), k)
        self.assertNotIn("HERO_LOGIC_DATA", out["env"])

    def test_bad_flow_files_fail_with_clear_reasons(self):
        cases = {
            "syntax.py": ("def broken(:\n", "SyntaxError"),
            "ambiguous.py": ("from hero_tracing import flow\n@flow\ndef a(): pass\n@flow\ndef b(): pass\n",
                             "invalid flow or input"),
        }
        for name, (src, expect) in cases.items():
            with self.subTest(name=name):
                p, doc = self.run_json(self.write_flow(name, src))
                self.assertEqual(p.returncode, 1)
                self.assertEqual(doc["run"]["status"], "failed")
                self.assertIn(expect, doc["run"]["reason"] + json.dumps(doc["tree"]))
                self.assert_no_span_running(doc)

    def test_input_not_matching_declared_types_fails(self):
        p, doc = self.run_json(os.path.join(REPO, "examples/hello_flow.py"), "--input",
                               '{"name": 5, "steps": 1}')
        self.assertEqual(p.returncode, 1)
        self.assertIn("invalid flow or input", doc["run"]["reason"])
        self.assertIn("name", doc["run"]["reason"])

    def test_usage_errors_exit_2_with_message(self):
        p = self.cli("run")
        self.assertEqual(p.returncode, 2)
        self.assertIn("FILE.py", p.stderr)
        p = self.cli("run", "/nonexistent.py")
        self.assertEqual(p.returncode, 2)
        self.assertIn("cannot read", p.stderr)
        p = self.cli("run", "x.py", "--bogus")
        self.assertEqual(p.returncode, 2)
        self.assertIn("--bogus", p.stderr)
        p = self.cli("run", "--help")
        self.assertEqual(p.returncode, 0)
        self.assertIn("124", p.stdout)
        ok = self.write_flow("ok.py", "print('hi')\n")
        for bad in ("5x", "0", "-1", "", "nan", "1e9"):
            p = self.cli("run", ok, "--timeout", bad)
            self.assertEqual(p.returncode, 2, (bad, p.stderr))
            self.assertIn("--timeout must be", p.stderr, bad)
        self.assertEqual(self.cli("run", ok, "--timeout", "0.5").returncode, 0)


class ExitAfterReturnTest(CliTestCase):
    """Issue #19: a run whose flow returned but whose process does not exit is killed by the
    supervisor's exit guard (2 s) and keeps the flow's own outcome, with a note; never a
    timed_out that blames the script."""

    def run_blocked_exit(self, body, timeout="30"):
        flow = self.write_flow("blocks_exit.py", body)
        t0 = time.monotonic()
        p, doc = self.run_json(flow, "--timeout", timeout)
        return p, doc, time.monotonic() - t0

    def assert_guard_note(self, run):
        notes = [d for d in run["diagnostics"] if "did not exit after the flow returned" in d]
        self.assertEqual(len(notes), 1, run["diagnostics"])
        self.assertIn("killed after 2", notes[0])

    def test_flow_that_returns_then_blocks_its_exit_ends_ok(self):
        p, doc, wall = self.run_blocked_exit("""
            import atexit, time
            from hero_tracing import flow
            atexit.register(time.sleep, 3600)   # holds up interpreter exit for an hour

            @flow(name="returns")
            def returns():
                with flow.step("work"):
                    print("working")
                return {"answer": 42}
            """)
        run = doc["run"]
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(run["status"], "ok")
        self.assertEqual(run["output"], {"answer": 42})
        self.assertEqual(doc["tree"]["status"], "ok")
        self.assert_guard_note(run)
        self.assertLess(wall, 20, "ended by the 30 s timeout, not by the exit guard")

    def test_failed_flow_that_blocks_its_exit_keeps_its_failure(self):
        p, doc, wall = self.run_blocked_exit("""
            import atexit, time
            atexit.register(time.sleep, 3600)
            raise KeyError("missing")
            """)
        run = doc["run"]
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(run["status"], "failed")
        self.assertIn("KeyError", run["reason"])
        self.assert_guard_note(run)
        self.assertLess(wall, 20)

    def test_blocked_exit_near_the_timeout_is_not_timed_out(self):
        # The flow returns 1 s before its 2 s timeout: the timeout fires while the exit is
        # held up, and the run is still the flow's ok, not timed_out.
        p, doc, _ = self.run_blocked_exit("""
            import atexit, time
            atexit.register(time.sleep, 3600)
            time.sleep(1)
            print("done")
            """, timeout="2")
        run = doc["run"]
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(run["status"], "ok")
        self.assertEqual([d for d in run["diagnostics"] if "did not exit" in d][0][:52],
                         "the process did not exit after the flow returned; ki")

    def test_non_daemon_thread_is_part_of_the_run(self):
        # As under python3, the interpreter waits for non-daemon threads: the root span covers
        # them and what they print lands in it.
        p, doc = self.run_json(self.write_flow("late.py", """
            import threading, time
            def late():
                time.sleep(0.5)
                print("late line")
            threading.Thread(target=late).start()
            print("main returns")
            """))
        self.assertEqual(p.returncode, 0, p.stderr)
        tree = doc["tree"]
        self.assertEqual([l["text"] for l in tree["logs"]], ["main returns\n", "late line\n"])
        self.assertGreaterEqual(tree["end_us"] - tree["start_us"], 450_000)
        self.assertFalse(any("did not exit" in d for d in doc["run"]["diagnostics"]))


class ConcurrentRunsTest(CliTestCase):
    def test_second_cli_run_does_not_interrupt_a_running_one(self):
        # Regression: every `hero_logic run` used to mark all `running` runs interrupted at
        # start, including those of another live process on the same data directory.
        import subprocess
        slow = self.write_flow("slow.py", "import time\nprint('slow start', flush=True)\ntime.sleep(2)\n")
        quick = self.write_flow("quick.py", "print('quick')\n")
        env = dict(os.environ, HERO_LOGIC_DATA=self.data, NO_COLOR="1")
        first = subprocess.Popen([BIN, "run", slow, "--json"], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, env=env)
        time.sleep(0.7)
        p = self.cli("run", quick)
        self.assertEqual(p.returncode, 0, p.stderr)
        out, err = first.communicate(timeout=30)
        self.assertEqual(first.returncode, 0, err)
        self.assertEqual(json.loads(out)["run"]["status"], "ok")
        runs = json.loads(self.cli("runs", "--json").stdout)
        self.assertEqual(sorted(r["status"] for r in runs), ["ok", "ok"])


class RunsAndShowTest(CliTestCase):
    def test_runs_lists_newest_first_with_filters_and_show_matches(self):
        ok = self.write_flow("ok.py", "print('fine')\n")
        bad = self.write_flow("bad.py", "raise SystemExit(4)\n")
        self.cli("run", ok)
        self.cli("run", bad)
        self.cli("run", ok)
        p = self.cli("runs", "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        runs = json.loads(p.stdout)
        self.assertEqual([r["id"] for r in runs], sorted((r["id"] for r in runs), reverse=True))
        self.assertEqual(len(runs), 3)
        failed = json.loads(self.cli("runs", "--json", "--status", "failed").stdout)
        self.assertEqual([r["flow"] for r in failed], ["bad"])
        limited = json.loads(self.cli("runs", "--json", "--limit", "1").stdout)
        self.assertEqual(len(limited), 1)
        by_flow = json.loads(self.cli("runs", "--json", "--flow", "ok").stdout)
        self.assertEqual(len(by_flow), 2)
        table = self.cli("runs").stdout
        self.assertIn("STATUS", table)
        self.assertIn("bad", table)
        show = self.cli("show", str(runs[0]["id"]), "--json")
        doc = json.loads(show.stdout)
        self.assertEqual(doc["run"]["id"], runs[0]["id"])
        self.assertIn("fine", json.dumps(doc["tree"]))
        human = self.cli("show", str(runs[0]["id"]))
        self.assertIn("fine", human.stdout)
        missing = self.cli("show", "99999")
        self.assertNotEqual(missing.returncode, 0)
        self.assertIn("99999", missing.stderr)


if __name__ == "__main__":
    unittest.main()
