"""The call channel: `call` lines to the supervisor and `call_result` answers on the same
socket (a fake supervisor answers here), and flow.invoke in-process and spawn=True."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

LIBRARY_SOURCE = '''
from hero_tracing import flow

@flow(name="double", inputs={"x": int})
def double(x):
    with flow.step("multiply"):
        return x * 2
'''


class FakeSupervisor:
    """Answers calls like the daemon would; records what it was asked."""

    def __init__(self, child_status="ok"):
        self.calls = []
        self.child_status = child_status
        self.waits = 0

    def __call__(self, method, params):
        self.calls.append((method, params))
        if method == "flow_get":
            if params.get("name") == "double":
                return {"name": "double", "source": LIBRARY_SOURCE, "version": 1}
            return harness.CallFailure(-32004, "unknown flow: %s" % params.get("name"))
        if method == "flow_library_search":
            return [{"name": "double", "score": 1.0}]
        if method == "play_run_async":
            return {"run_id": 77}
        if method == "play_wait":
            self.waits += 1
            if self.waits == 1:
                return {"status": "running"}
            if self.child_status == "ok":
                return {"status": "ok", "output": {"doubled": 10}, "reason": ""}
            return {"status": self.child_status, "output": None,
                    "reason": "exit code 1: ValueError in step 'parse'"}
        return harness.CallFailure(-32601, "method not allowed: %s" % method)


class CallChannelTest(unittest.TestCase):
    def setUp(self):
        self.files = harness.FlowFiles()

    def tearDown(self):
        self.files.cleanup()

    def test_call_round_trip_and_errors(self):
        sup = FakeSupervisor()
        r = harness.run_boot(self.files, """
            from hero_tracing import flow, CallError
            @flow
            def f():
                found = flow.call("flow_library_search", {"query": "double", "limit": 3})
                try:
                    flow.call("script_run", {"source": ""})
                except CallError as e:
                    err = [e.code, e.message]
                again = flow.call("flow_library_search", {"query": "x"})
                return {"found": found, "err": err, "again": again}
        """, answer=sup)
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertEqual(r.result(), {
            "found": [{"name": "double", "score": 1.0}],
            "err": [-32601, "method not allowed: script_run"],
            "again": [{"name": "double", "score": 1.0}]})
        calls = r.of_type("call")
        self.assertEqual([c["req"] for c in calls], [1, 2, 3])
        self.assertEqual(calls[0]["method"], "flow_library_search")
        self.assertEqual(calls[0]["params"], {"query": "double", "limit": 3})

    def test_invoke_in_process_fetches_source_with_flow_get(self):
        sup = FakeSupervisor()
        r = harness.run_boot(self.files, """
            from hero_tracing import flow, CallError
            @flow
            def f():
                with flow.step("caller"):
                    v = flow.invoke("double", x=21)
                try:
                    flow.invoke("missing_flow")
                except CallError as e:
                    missing = e.message
                return [v, missing]
        """, answer=sup)
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertEqual(r.result(), [42, "unknown flow: missing_flow"])
        self.assertEqual(sup.calls[0], ("flow_get", {"name": "double"}))
        d = r.span("double")
        self.assertEqual(d["kind"], "step")
        self.assertEqual(d["parent"], r.span("caller")["id"])
        self.assertTrue(d["file"].endswith("flow.py"))
        self.assertEqual(r.span("multiply")["parent"], d["id"])

    def test_invoke_local_registry_first(self):
        sup = FakeSupervisor()
        r = harness.run_boot(self.files, """
            from hero_tracing import flow
            @flow(name="local_helper", inputs={"s": str})
            def local_helper(s):
                return s.upper()
            @flow(name="main")
            def main():
                return flow.invoke("local_helper", s="abc")
        """, "--name", "main", answer=sup)
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertEqual(r.result(), "ABC")
        self.assertEqual(sup.calls, [])
        self.assertEqual(r.span("local_helper")["parent"], r.root()["id"])

    def test_invoke_validates_inputs(self):
        r = harness.run_boot(self.files, """
            from hero_tracing import flow, InputError
            @flow(name="typed", inputs={"n": int})
            def typed(n):
                return n
            @flow(name="main")
            def main():
                try:
                    flow.invoke("typed", n="x")
                except InputError as e:
                    return str(e)
        """, "--name", "main", answer=FakeSupervisor())
        self.assertEqual(r.result(), "input field 'n': expected int, got str")

    def test_spawn_opens_subflow_span_with_child_run_id(self):
        sup = FakeSupervisor()
        r = harness.run_boot(self.files, """
            from hero_tracing import flow
            @flow
            def f():
                return flow.invoke("double", spawn=True, x=5)
        """, answer=sup)
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertEqual(r.result(), {"doubled": 10})
        starts = [e for e in r.of_type("span_start") if e["name"] == "double"]
        self.assertEqual(len(starts), 2)            # repeated span_start adds child_run_id
        self.assertEqual(starts[0]["kind"], "subflow")
        self.assertTrue(starts[0]["file"].endswith("flow.py"), starts[0])
        self.assertEqual(starts[0]["line"], 4)
        self.assertNotIn("child_run_id", starts[0])
        self.assertEqual(starts[1]["child_run_id"], 77)
        self.assertEqual(starts[0]["id"], starts[1]["id"])
        self.assertEqual(r.tags("double"), {"child_run_id": 77, "child_status": "ok"})
        self.assertEqual(sup.calls[0], ("play_run_async", {
            "flow": "double", "input": {"x": 5}, "parent_span": starts[0]["id"]}))
        self.assertEqual(sup.calls[1][0], "play_wait")
        self.assertEqual(sup.calls[1][1]["run_id"], 77)
        self.assertIn("timeout_ms", sup.calls[1][1])
        self.assertEqual(r.end_of("double")["status"], "ok")

    def test_spawn_failed_child_raises_failed(self):
        sup = FakeSupervisor(child_status="failed")
        r = harness.run_boot(self.files, """
            from hero_tracing import flow
            @flow
            def f():
                try:
                    flow.invoke("double", spawn=True, x=5)
                except flow.Failed as e:
                    return str(e)
        """, answer=sup)
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertEqual(r.result(), "exit code 1: ValueError in step 'parse'")
        end = r.end_of("double")
        self.assertEqual(end["status"], "failed")
        self.assertEqual(end["error_type"], "Failed")

    def test_run_child_runs_source_under_linked_subflow_span(self):
        # The public call the built-in flows use (no private Span attribute outside the SDK).
        sup = FakeSupervisor()
        r = harness.run_boot(self.files, """
            from hero_tracing import flow
            @flow
            def f():
                rec = flow.run_child("child script", {"source": "print(1)"}, attempt=2)
                return rec["status"]
        """, answer=sup)
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertEqual(r.result(), "ok")
        starts = [e for e in r.of_type("span_start") if e["name"] == "child script"]
        self.assertEqual([s.get("child_run_id") for s in starts], [None, 77])
        self.assertEqual(starts[0]["kind"], "subflow")
        self.assertEqual(starts[0]["line"], 4)       # the caller's line, not the SDK's
        self.assertEqual(r.tags("child script"),
                         {"attempt": 2, "child_run_id": 77, "child_status": "ok"})
        self.assertEqual(sup.calls[0], ("play_run_async", {
            "source": "print(1)", "parent_span": starts[0]["id"]}))

    def test_run_child_failure_carries_the_record(self):
        sup = FakeSupervisor(child_status="failed")
        r = harness.run_boot(self.files, """
            from hero_tracing import flow
            @flow
            def f():
                try:
                    flow.run_child("child", {"flow": "double", "input": {}})
                except flow.Failed as e:
                    return [str(e), e.record["status"]]
        """, answer=sup)
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertEqual(r.result(), ["exit code 1: ValueError in step 'parse'", "failed"])
        self.assertEqual(r.end_of("child")["status"], "failed")

    def test_link_run_marks_any_span(self):
        r = harness.run_boot(self.files, """
            from hero_tracing import flow
            @flow
            def f():
                with flow.step("dispatcher") as s:
                    s.link_run(123)
        """, answer=FakeSupervisor())
        self.assertEqual(r.rc, 0, r.stderr)
        starts = [e for e in r.of_type("span_start") if e["name"] == "dispatcher"]
        self.assertEqual(starts[-1]["child_run_id"], 123)
        self.assertEqual(r.tags("dispatcher"), {"child_run_id": 123})

    def test_calls_from_threads(self):
        sup = FakeSupervisor()
        r = harness.run_boot(self.files, """
            from hero_tracing import flow
            @flow
            def f():
                return flow.map(lambda i: flow.call("flow_library_search", {"i": i})[0]["name"],
                                range(16), max_workers=8)
        """, answer=sup)
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertEqual(r.result(), ["double"] * 16)

    def test_closed_channel_raises_call_error(self):
        # No answer callback: the fake supervisor reads but never replies, then the test
        # closes nothing; use a flow that closes its own read side instead.
        r = harness.run_boot(self.files, """
            import os, socket
            import hero_tracing
            from hero_tracing import flow, CallError
            @flow
            def f():
                socket.socket(fileno=os.dup(hero_tracing._fd)).shutdown(socket.SHUT_RD)
                try:
                    flow.call("flow_get", {"name": "x"})
                except CallError as e:
                    return e.message
        """)
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertIn("closed", r.result())


if __name__ == "__main__":
    unittest.main()
