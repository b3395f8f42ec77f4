"""model_call against the recorded-answer model server fixture: happy path, retries on
429/5xx, fail-fast on unknown requests and a missing endpoint, tree shape stability."""

import unittest

from flow_harness import ModelServer, child, names, run_flow, shape

HELLO = {"model": "gpt-4o-mini", "prompt": "Say hello in five words.", "backoff_s": 0.01}


class ModelCallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ms = ModelServer().__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.ms.__exit__(None, None, None)

    def run_hello(self, **extra):
        return run_flow("model_call", dict(HELLO, endpoint=self.ms.url, **extra))

    def test_happy_path_tags_tokens_latency_and_cost(self):
        r = self.run_hello()
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertEqual(shape(r), (
            "model_call", "flow_root", "ok", [
                ("prepare", "step", "ok", []),
                ("complete", "step", "ok", [("aibroker.chat_completions", "rpc", "ok", [])]),
                ("parse", "step", "ok", [])]))
        out = r.result()
        self.assertEqual(out["content"], "Hello there, friend, welcome!")
        self.assertEqual(out["usage"], {"prompt_tokens": 14, "completion_tokens": 7,
                                        "total_tokens": 21})
        tags = r.tags("model_call")
        self.assertEqual(tags["model"], "gpt-4o-mini")
        self.assertEqual((tags["prompt_tokens"], tags["completion_tokens"]), (14, 7))
        self.assertGreater(tags["cost_usd"], 0)
        self.assertTrue(tags["cost_known"])
        self.assertIn("latency_ms", tags)
        rpc = r.span("aibroker.chat_completions")
        self.assertEqual((rpc["rpc_service"], rpc["rpc_method"]), ("aibroker", "chat_completions"))
        # Every span ends under its parent (parent links are real ids).
        starts = r.starts()
        for s in starts.values():
            self.assertTrue(s["parent"] is None or s["parent"] in starts)

    def test_500s_are_retried_with_backoff_then_succeed(self):
        self.ms.fail_next(2, 500)
        r = self.run_hello()
        self.assertEqual(r.rc, 0, r.stderr)
        complete = child(shape(r), "complete")
        self.assertEqual([(c[0], c[2]) for c in complete[3]], [
            ("aibroker.chat_completions", "failed"), ("aibroker.chat_completions", "failed"),
            ("aibroker.chat_completions", "ok")])
        self.assertEqual(r.result()["attempts"], 3)
        self.assertIn("retrying", r.logs("complete"))

    def test_429_honours_retry_after(self):
        self.ms.fail_next(1, 429)
        r = self.run_hello()
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertEqual(r.result()["attempts"], 2)

    def test_model_error_gives_up_after_bounded_retries(self):
        self.ms.fail_next(5, 503)
        r = self.run_hello(retries=1)
        self.ms.fail_next(0)
        self.assertEqual(r.rc, 1)
        s = shape(r)
        self.assertEqual(s[2], "failed")
        self.assertEqual(names(s), ["prepare", "complete"])
        self.assertEqual([c[2] for c in child(s, "complete")[3]], ["failed", "failed"])
        err = r.end_of("model_call")["error"]
        self.assertIn("model endpoint answered 503", err)
        self.assertIn("gave up after 2 attempts", err)

    def test_unknown_request_fails_at_once_naming_the_key(self):
        r = run_flow("model_call", {"prompt": "never recorded", "endpoint": self.ms.url})
        self.assertEqual(r.rc, 1)
        self.assertEqual(len(child(shape(r), "complete")[3]), 1)   # 404: no retry
        err = r.end_of("model_call")["error"]
        self.assertRegex(err, r"answered 404: no recorded answer for request key [0-9a-f]{16}")

    def test_no_endpoint_fails_at_once_with_a_clear_reason(self):
        r = run_flow("model_call", {"prompt": "hi"})
        self.assertEqual(r.rc, 1)
        self.assertEqual(shape(r), ("model_call", "flow_root", "failed",
                                    [("prepare", "step", "failed", [])]))
        self.assertTrue(r.end_of("prepare")["error"].startswith("HERO_AIBROKER_URL is not set"))
        self.assertEqual(r.end_of("prepare")["error_type"], "Failed")

    def test_bad_input_fails_in_prepare(self):
        r = run_flow("model_call", {"prompt": "hi", "messages": [], "endpoint": self.ms.url})
        self.assertEqual(r.rc, 1)
        self.assertIn("not both", r.end_of("prepare")["error"])
        r = run_flow("model_call", {"messages": [{"role": "user"}], "endpoint": self.ms.url})
        self.assertIn("messages[0]", r.end_of("prepare")["error"])
        r = run_flow("model_call", {"prompt": 3})
        self.assertEqual(r.rc, 2)   # the boot module's input validation

    def test_renders_identically(self):
        self.assertEqual(shape(self.run_hello()), shape(self.run_hello()))


if __name__ == "__main__":
    unittest.main()
