"""benchmark_flow, pick_version_flow and optimize_flow on the harness's fake supervisor:
child runs per saved input with stats as tags and output, version choice by weights,
candidates benchmarked as child runs; failure paths and tree shape stability."""

import unittest

from fake_daemon import FakeDaemon
from flow_harness import child, names, run_flow, shape

TOY = {"name": "toy", "version": 2, "entry": "toy",
       "source": "from hero_tracing import flow\n\n@flow(name='toy')\ndef toy(x=0):\n"
                 "    return {'x': x}\n"}
EXAMPLES = {"toy": [{"id": 1, "flow": "toy", "name": "one", "input": {"x": 1}},
                    {"id": 2, "flow": "toy", "name": "two", "input": {"x": 2}}]}


def run_source(params):
    """A benchmark child run of TOY's source, answered without running python."""
    inp = params.get("input") or {}
    if inp.get("x") == 2 and inp.get("model") == "bad":
        return "failed", None, "exit code 1: ValueError: bad model"
    return "ok", {"x": inp.get("x"), "usage": {"total_tokens": 10 * inp.get("x", 0)},
                  "cost_usd": 0.001}, "ok"


def fake_toy():
    return FakeDaemon(sources={"toy": TOY}, examples=EXAMPLES, source_runner=run_source)


class BenchmarkFlowTest(unittest.TestCase):
    def test_runs_each_saved_input_as_a_child_run_and_reports_stats(self):
        fake = fake_toy()
        r = run_flow("benchmark_flow", {"flow": "toy", "runs": 2}, answer=fake.answer)
        self.assertEqual(r.rc, 0, r.stderr)
        s = shape(r)
        self.assertEqual(names(s), ["resolve", "load_inputs", "runs", "stats"])
        self.assertEqual(child(s, "runs")[3], [("run %d" % i, "subflow", "ok", [])
                                               for i in range(1, 5)])
        self.assertEqual(fake.methods()[:2], ["flow_get", "example_list"])
        started = fake.params_of("play_run_async")
        self.assertEqual([p["input"] for p in started], [{"x": 1}, {"x": 2}] * 2)
        self.assertTrue(all(p["source"] == TOY["source"] and p["name"] == "toy" for p in started))
        out = r.result()
        self.assertEqual((out["runs"], out["ok"], out["success_rate"], out["version"]),
                         (4, 4, 1.0, 2))
        self.assertEqual(out["tokens_total"], 60)
        self.assertLessEqual(out["p50_ms"], out["p95_ms"])
        tags = r.tags("benchmark_flow")
        for k in ("success_rate", "p50_ms", "p95_ms", "tokens_total", "cost_usd"):
            self.assertIn(k, tags)
        self.assertEqual(r.span("run 1")["child_run_id"], 100)

    def test_failed_child_runs_count_against_the_success_rate(self):
        fake = fake_toy()
        r = run_flow("benchmark_flow", {"flow": "toy", "settings": {"model": "bad"}},
                     answer=fake.answer)
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertEqual([c[2] for c in child(shape(r), "runs")[3]], ["ok", "failed"])
        out = r.result()
        self.assertEqual((out["ok"], out["success_rate"]), (1, 0.5))
        self.assertIn("bad model", out["results"][1]["reason"])

    def test_no_saved_inputs_fails_clearly(self):
        fake = fake_toy()
        fake.examples = {}
        r = run_flow("benchmark_flow", {"flow": "toy"}, answer=fake.answer)
        self.assertEqual(r.rc, 1)
        self.assertEqual(names(shape(r)), ["resolve", "load_inputs"])
        self.assertIn("no saved inputs", r.end_of("load_inputs")["error"])

    def test_unknown_flow_and_too_many_runs_fail(self):
        r = run_flow("benchmark_flow", {"flow": "nope"}, answer=fake_toy().answer)
        self.assertIn("flow 'nope' not found", r.end_of("resolve")["error"])
        r = run_flow("benchmark_flow", {"flow": "toy", "runs": 11}, answer=fake_toy().answer)
        self.assertIn("the limit is 20", r.end_of("load_inputs")["error"])

    def test_renders_identically(self):
        def once():
            return shape(run_flow("benchmark_flow", {"flow": "toy"}, answer=fake_toy().answer))
        self.assertEqual(once(), once())


RESULTS = [{"version": 1, "success_rate": 1.0, "p50_ms": 900, "cost_usd": 0.002},
           {"version": 2, "success_rate": 1.0, "p50_ms": 300, "cost_usd": 0.0004},
           {"version": 3, "success_rate": 0.5, "p50_ms": 200, "cost_usd": 0.0001}]


class PickVersionFlowTest(unittest.TestCase):
    def test_weights_decide(self):
        r = run_flow("pick_version_flow", {"flow": "toy", "results": RESULTS})
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertEqual(shape(r), ("pick_version_flow", "flow_root", "ok", [
            ("validate", "step", "ok", []), ("score", "step", "ok", []),
            ("choose", "step", "ok", [])]))
        self.assertEqual(r.result()["best"]["version"], 2)
        self.assertEqual(r.tags("pick_version_flow")["best"], "v2")
        fast = run_flow("pick_version_flow", {"flow": "toy", "results": RESULTS,
                                              "weights": {"accuracy": 0, "speed": 1, "cost": 0}})
        self.assertEqual(fast.result()["best"]["version"], 3)
        ranking = [x["version"] for x in fast.result()["ranking"]]
        self.assertEqual(ranking, [3, 2, 1])

    def test_bad_input_fails_in_validate(self):
        for inp, msg in [({"results": []}, "`results` is empty"),
                         ({"results": RESULTS, "weights": {"speed": -1}}, "must be a number >= 0"),
                         ({"results": RESULTS, "weights": {"taste": 1}}, "unknown weights taste"),
                         ({"results": [{"version": 1}]}, "has no accuracy or success_rate")]:
            r = run_flow("pick_version_flow", dict(inp, flow="toy"))
            self.assertEqual(r.rc, 1, inp)
            self.assertIn(msg, r.end_of("validate")["error"])

    def test_renders_identically(self):
        def once():
            return shape(run_flow("pick_version_flow", {"flow": "toy", "results": RESULTS}))
        self.assertEqual(once(), once())


def benchmark(inp):
    """A benchmark_flow child run: the big model is accurate but slow and dear."""
    big = (inp.get("settings") or {}).get("model") == "big"
    return "ok", {"flow": inp["flow"], "version": 2, "runs": 2, "ok": 2,
                  "success_rate": 1.0, "accuracy": 1.0 if big else 0.5,
                  "p50_ms": 500.0 if big else 100.0, "p95_ms": 600.0,
                  "tokens_total": 40, "cost_usd": 0.01 if big else 0.001, "results": []}, "ok"


class OptimizeFlowTest(unittest.TestCase):
    def optimize(self, fake, **kw):
        inp = dict({"flow": "toy", "candidates": [{"name": "big",
                                                    "settings": {"model": "big"}}]}, **kw)
        return run_flow("optimize_flow", inp, answer=fake.answer)

    def test_benchmarks_each_candidate_as_a_child_run_and_picks_the_best(self):
        fake = FakeDaemon(flows={"benchmark_flow": benchmark})
        r = self.optimize(fake, weights={"accuracy": 1, "speed": 0, "cost": 0})
        self.assertEqual(r.rc, 0, r.stderr)
        s = shape(r)
        self.assertEqual(names(s), ["candidates", "candidate current", "candidate big",
                                    "pick_version_flow"])
        self.assertEqual(child(s, "candidate big")[3], [("benchmark_flow", "subflow", "ok", [])])
        started = fake.params_of("play_run_async")
        self.assertEqual([p["flow"] for p in started], ["benchmark_flow", "benchmark_flow"])
        self.assertEqual(started[1]["input"]["settings"], {"model": "big"})
        out = r.result()
        self.assertEqual((out["best"]["candidate"], out["best"]["settings"]),
                         ("big", {"model": "big"}))
        fake = FakeDaemon(flows={"benchmark_flow": benchmark})
        cheap = self.optimize(fake, weights={"accuracy": 0, "speed": 1, "cost": 1})
        self.assertEqual(cheap.result()["best"]["candidate"], "current")

    def test_a_failed_benchmark_fails_the_flow(self):
        fake = FakeDaemon(flows={"benchmark_flow": lambda inp: ("failed", None,
                                                                "exit code 1: no saved inputs")})
        r = self.optimize(fake)
        self.assertEqual(r.rc, 1)
        self.assertEqual(names(shape(r)), ["candidates", "candidate current"])
        self.assertIn("no saved inputs", r.end_of("optimize_flow")["error"])

    def test_bad_candidates_fail_before_any_run(self):
        fake = FakeDaemon(flows={"benchmark_flow": benchmark})
        r = self.optimize(fake, candidates=[{"name": "broken", "source": "def f(:\n"}])
        self.assertEqual(r.rc, 1)
        self.assertIn("candidate broken does not compile", r.end_of("candidates")["error"])
        r = self.optimize(fake, candidates=[])
        self.assertIn("nothing to compare", r.end_of("candidates")["error"])
        self.assertEqual(fake.params_of("play_run_async"), [])

    def test_renders_identically(self):
        def once():
            return shape(self.optimize(FakeDaemon(flows={"benchmark_flow": benchmark})))
        self.assertEqual(once(), once())


if __name__ == "__main__":
    unittest.main()
