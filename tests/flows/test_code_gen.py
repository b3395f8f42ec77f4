"""service_code_gen against the recorded-answer fixture: one-shot success, a script that does
not compile and is fixed on the retry (recorded answers for both attempts), model errors, bad
input, and the same tree shape across runs."""

import unittest

from flow_harness import ModelServer, child, names, run_flow, shape

SUM = "Print the sum of the integers from 1 to 10 as JSON."
SQUARES = "Print the first five square numbers as JSON."

MODEL_CALL = ("model_call", "step", "ok", [
    ("prepare", "step", "ok", []),
    ("complete", "step", "ok", [("aibroker.chat_completions", "rpc", "ok", [])]),
    ("parse", "step", "ok", [])])


class CodeGenTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ms = ModelServer().__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.ms.__exit__(None, None, None)

    def gen(self, intent, **kw):
        return run_flow("service_code_gen", dict(intent=intent, endpoint=self.ms.url, **kw))

    def test_happy_path_returns_compiled_code(self):
        r = self.gen(SUM)
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertEqual(shape(r), ("service_code_gen", "flow_root", "ok", [
            ("prompt", "step", "ok", []),
            ("attempt 1", "step", "ok", [MODEL_CALL, ("extract", "step", "ok", []),
                                         ("compile", "step", "ok", [])])]))
        out = r.result()
        self.assertEqual(out["attempts"], 1)
        self.assertIn("sum(range(1, 11))", out["code"])
        compile(out["code"], "x", "exec")
        self.assertEqual(r.tags("service_code_gen")["total_tokens"], 204)

    def test_code_that_does_not_compile_is_fixed_on_the_retry(self):
        r = self.gen(SQUARES)
        self.assertEqual(r.rc, 0, r.stderr)
        s = shape(r)
        self.assertEqual(s[2], "ok")
        self.assertEqual(names(s), ["prompt", "attempt 1", "attempt 2"])
        a1 = child(s, "attempt 1")
        self.assertEqual(a1[2], "failed")
        self.assertEqual([(c[0], c[2]) for c in a1[3]],
                         [("model_call", "ok"), ("extract", "ok"), ("compile", "failed")])
        self.assertEqual(child(s, "attempt 2")[2], "ok")
        self.assertEqual(r.end_of("compile")["error_type"], "IndentationError")
        self.assertEqual(r.result()["attempts"], 2)

    def test_no_compilable_code_within_the_attempts_fails(self):
        r = self.gen(SQUARES, max_attempts=1)
        self.assertEqual(r.rc, 1)
        self.assertEqual(names(shape(r)), ["prompt", "attempt 1"])
        self.assertIn("does not compile after 1 attempts: IndentationError",
                      r.end_of("service_code_gen")["error"])

    def test_model_error_fails_the_flow(self):
        r = self.gen("An intent nobody recorded.")
        self.assertEqual(r.rc, 1)
        s = shape(r)
        self.assertEqual(s[2], "failed")
        self.assertEqual(child(child(s, "attempt 1"), "model_call")[2], "failed")
        self.assertIn("no recorded answer", r.end_of("service_code_gen")["error"])

    def test_a_transient_500_is_retried_inside_model_call(self):
        self.ms.fail_next(1, 500)
        r = self.gen(SUM)
        self.assertEqual(r.rc, 0, r.stderr)
        complete = child(child(child(shape(r), "attempt 1"), "model_call"), "complete")
        self.assertEqual([c[2] for c in complete[3]], ["failed", "ok"])

    def test_bad_input(self):
        r = self.gen("   ")
        self.assertEqual(r.rc, 1)
        self.assertEqual(shape(r), ("service_code_gen", "flow_root", "failed",
                                    [("prompt", "step", "failed", [])]))
        self.assertIn("`intent` is empty", r.end_of("prompt")["error"])

    def test_renders_identically(self):
        self.assertEqual(shape(self.gen(SQUARES)), shape(self.gen(SQUARES)))


if __name__ == "__main__":
    unittest.main()
