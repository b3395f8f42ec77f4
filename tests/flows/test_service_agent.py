"""service_agent on the harness's fake supervisor (tests/flows/fake_daemon.py): library-first
(a good match runs that flow as a child run and stops), the generate-run-debug loop with a
script that fails at run time and is fixed on the retry (recorded answers for both attempts),
bounded retries, no daemon, bad input, and the same tree shape across runs."""

import unittest

from fake_daemon import FakeDaemon
from flow_harness import SERVICES, ModelServer, child, harness, names, run_flow, shape

GREET_HIT = {"name": "greet_person", "description": "Greet a person by name with a friendly hello",
             "score": 4.2, "snippet": "[Greet] a [person] by [name]", "version": 1}
SELF_HIT = {"name": "service_agent", "description": "Agent: fulfil an intent", "score": 9.0,
            "snippet": "greet a person by name", "version": 1}
SQUARES = "Compute the squares of 1 to 3."


def greet(inp):
    return "ok", {"greeting": "Hello, %s!" % inp.get("name", "world")}, "ok"


class ServiceAgentTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ms = ModelServer().__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.ms.__exit__(None, None, None)

    def agent(self, fake, intent, **kw):
        inp = dict(intent=intent, endpoint=self.ms.url, services_dir=SERVICES, **kw)
        return run_flow("service_agent", inp, answer=fake.answer)

    def test_library_match_runs_that_flow_as_a_child_run_and_stops(self):
        fake = FakeDaemon(hits=[SELF_HIT, GREET_HIT], flows={"greet_person": greet})
        r = self.agent(fake, "greet a person by name", flow_input={"name": "Ada"})
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertEqual(shape(r), ("service_agent", "flow_root", "ok", [
            ("library_search", "step", "ok", []),
            ("run_library_flow", "step", "ok", [("run greet_person", "subflow", "ok", [])]),
            ("summarize", "step", "ok", [])]))
        # The first call is the library search; the agent never matches itself.
        self.assertEqual(fake.methods(), ["flow_library_search", "play_run_async", "play_wait"])
        start = fake.params_of("play_run_async")[0]
        self.assertEqual((start["flow"], start["input"]), ("greet_person", {"name": "Ada"}))
        sub = r.span("run greet_person")
        self.assertEqual(start["parent_span"], sub["id"])
        self.assertEqual(sub["child_run_id"], 100)
        out = r.result()
        self.assertEqual((out["mode"], out["flow"], out["output"]),
                         ("library", "greet_person", {"greeting": "Hello, Ada!"}))
        self.assertEqual(r.tags("library_search")["best"], "greet_person")

    def test_failing_script_is_debugged_and_fixed_on_the_retry(self):
        fake = FakeDaemon(hits=[GREET_HIT])
        r = self.agent(fake, SQUARES)
        self.assertEqual(r.rc, 0, r.stderr + r.stdout)
        s = shape(r)
        self.assertEqual(names(s), ["library_search", "select_services", "attempt 1", "attempt 2",
                                    "summarize"])
        a1, a2 = child(s, "attempt 1"), child(s, "attempt 2")
        self.assertEqual((a1[2], a2[2]), ("failed", "ok"))
        self.assertEqual([(c[0], c[1], c[2]) for c in a1[3]],
                         [("service_code_gen", "step", "ok"), ("run_script", "subflow", "failed")])
        self.assertEqual([(c[0], c[1], c[2]) for c in a2[3]],
                         [("service_code_gen", "step", "ok"), ("run_script", "subflow", "ok")])
        runs = fake.params_of("play_run_async")
        self.assertEqual([p["profile"] for p in runs], ["untrusted", "untrusted"])
        self.assertIn("ValueError", fake.runs[100]["reason"])
        out = r.result()
        self.assertEqual((out["mode"], out["attempts"], out["output"]),
                         ("generated", 2, {"squares": [1, 4, 9]}))
        self.assertEqual(r.tags("select_services")["selected"], [])

    def test_retries_are_bounded(self):
        fake = FakeDaemon(hits=[])
        r = self.agent(fake, SQUARES, max_attempts=1)
        self.assertEqual(r.rc, 1)
        s = shape(r)
        self.assertEqual(names(s), ["library_search", "select_services", "attempt 1"])
        self.assertIn("still fails after 1 attempts", r.end_of("service_agent")["error"])
        self.assertEqual(len(fake.params_of("play_run_async")), 1)

    def test_model_error_fails_without_running_anything(self):
        fake = FakeDaemon(hits=[])
        r = self.agent(fake, "An intent nobody recorded.")
        self.assertEqual(r.rc, 1)
        self.assertNotIn("play_run_async", fake.methods())
        self.assertIn("no recorded answer", r.end_of("service_agent")["error"])

    def test_without_a_daemon_the_library_search_fails_clearly(self):
        def local(method, params):   # what `hero_logic run` (no daemon) answers
            return harness.CallFailure(-32000, "this run is not managed by a hero_logic daemon")
        r = run_flow("service_agent", {"intent": "greet a person"}, answer=local)
        self.assertEqual(r.rc, 1)
        self.assertEqual(shape(r), ("service_agent", "flow_root", "failed",
                                    [("library_search", "step", "failed", [])]))
        self.assertIn("needs a hero_logic daemon", r.end_of("library_search")["error"])

    def test_bad_input(self):
        r = run_flow("service_agent", {"intent": ""}, answer=FakeDaemon().answer)
        self.assertEqual(r.rc, 1)
        self.assertIn("`intent` is empty", r.end_of("service_agent")["error"])
        r = run_flow("service_agent", {"intent": "x", "max_attempts": 9},
                     answer=FakeDaemon().answer)
        self.assertIn("max_attempts", r.end_of("service_agent")["error"])

    def test_renders_identically(self):
        def once():
            return shape(self.agent(FakeDaemon(hits=[GREET_HIT]), SQUARES))
        self.assertEqual(once(), once())


if __name__ == "__main__":
    unittest.main()
