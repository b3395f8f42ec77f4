"""The built-in flows in a real daemon (`hero_logic serve` on a temp socket, --port 0, the
builtin_flows directory) with the recorded-answer model server: the stored trees' shapes,
child-run links over the `call` channel, and the same shape across two runs."""

import os
import unittest

from flow_harness import BIN, Daemon, ModelServer, child, names, tree_shape

GREET = '''from hero_tracing import flow


@flow(name="greet_person", description="Greet a person by name with a friendly hello",
      inputs={"name": str})
def greet_person(name="world"):
    with flow.step("compose"):
        return {"greeting": "Hello, %s!" % name}
'''


@unittest.skipUnless(os.access(BIN, os.X_OK), "hero_logic binary not built: " + BIN)
class DaemonFlowsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ms = ModelServer().__enter__()
        cls.d = Daemon().__enter__()
        c = cls.d.client
        c.call("flow_create", source=GREET)
        for name, prompt in (("hello", "Say hello in five words."),
                             ("haiku", "Write a haiku about logs.")):
            c.example_create("model_call", name, {"prompt": prompt, "endpoint": cls.ms.url})

    @classmethod
    def tearDownClass(cls):
        cls.d.__exit__(None, None, None)
        cls.ms.__exit__(None, None, None)

    def test_builtin_flows_are_in_the_library(self):
        got = {f["name"] for f in self.d.client.flow_list()}
        self.assertTrue({"model_call", "service_code_gen", "service_agent", "benchmark_flow",
                         "pick_version_flow", "optimize_flow"} <= got, got)
        hits = self.d.client.flow_library_search("benchmark saved inputs p95", 5)
        self.assertEqual(hits[0]["name"], "benchmark_flow")

    def test_agent_finds_a_library_flow_and_links_the_child_run(self):
        run, tree = self.d.play("service_agent", {"intent": "greet a person by name",
                                                  "flow_input": {"name": "Ada"}})
        self.assertEqual(run["status"], "ok", run["reason"])
        s = tree_shape(tree)
        self.assertEqual(s, ("service_agent", "flow_root", "ok", [
            ("library_search", "step", "ok", []),
            ("run_library_flow", "step", "ok", [("run greet_person", "subflow", "ok", [])]),
            ("summarize", "step", "ok", [])]))
        sub = tree["children"][1]["children"][0]
        child_run = self.d.client.play_status(sub["child_run_id"])
        self.assertEqual((child_run["parent_run"], child_run["parent_span"]),
                         (run["id"], sub["id"]))
        self.assertEqual(run["output"]["output"], {"greeting": "Hello, Ada!"})
        kid = self.d.client.play_spans(child_run["id"])
        self.assertEqual(tree_shape(kid), ("greet_person", "flow_root", "ok",
                                           [("compose", "step", "ok", [])]))

    def test_benchmark_runs_saved_inputs_as_child_runs(self):
        run, tree = self.d.play("benchmark_flow", {"flow": "model_call"})
        self.assertEqual(run["status"], "ok", run["reason"])
        s = tree_shape(tree)
        self.assertEqual(names(s), ["resolve", "load_inputs", "runs", "stats"])
        self.assertEqual(child(s, "runs")[3], [("run 1", "subflow", "ok", []),
                                               ("run 2", "subflow", "ok", [])])
        out = run["output"]
        self.assertEqual((out["runs"], out["ok"], out["tokens_total"]), (2, 2, 55))
        self.assertEqual(tree["tags"]["success_rate"], 1.0)

    def test_model_call_without_endpoint_fails_at_once(self):
        run, tree = self.d.play("model_call", {"prompt": "hi"})
        self.assertEqual(run["status"], "failed")
        self.assertIn("HERO_AIBROKER_URL is not set", run["reason"])
        self.assertEqual(tree_shape(tree), ("model_call", "flow_root", "failed",
                                            [("prepare", "step", "failed", [])]))

    def test_renders_identically(self):
        inp = {"flow": "model_call", "candidates": [{"name": "gpt-4o",
                                                     "settings": {"model": "gpt-4o"}}],
               "inputs": [{"prompt": "Say hello in five words.", "endpoint": self.ms.url}],
               "weights": {"accuracy": 1, "speed": 0, "cost": 1}}
        (r1, t1), (r2, t2) = self.d.play("optimize_flow", inp), self.d.play("optimize_flow", inp)
        self.assertEqual((r1["status"], r2["status"]), ("ok", "ok"), r1["reason"])
        self.assertEqual(tree_shape(t1), tree_shape(t2))
        self.assertEqual(r1["output"]["best"]["candidate"], "current")


if __name__ == "__main__":
    unittest.main()
