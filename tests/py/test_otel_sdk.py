"""W3C trace context in the SDK (hero_tracing/_otel.py): span ids agree with the supervisor's
(supervisor/otel/trace_context.h), flow.traceparent() names the current span, instrument()
injects traceparent into HTTP-shaped calls without touching what the caller passed, and
standalone Python has no context."""

import os
import sys
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from hero_tracing import _otel  # noqa: E402

TRACE = "0af7651916cd43dd8448eb211c80319c"
KEY = "0123456789abcdef"
ENV = {"TRACEPARENT": "00-%s-a650b89455c9f4a0-01" % TRACE, "HERO_FLOW_SPAN_SEED": KEY,
       "TRACESTATE": "v=1"}


class SpanIdTest(unittest.TestCase):
    def test_matches_the_supervisor(self):
        # Same inputs and values as TraceContextTest.SpanIdsMatchThePythonSdk (C++).
        self.assertEqual(_otel.span_id(0x0123456789abcdef, ""), 0xa650b89455c9f4a0)
        self.assertEqual(_otel.span_id(0x0123456789abcdef, "42"), 0x924a4eb30a79847b)
        self.assertEqual(_otel.span_id(0, "\u00e9"), 0x233403617480019e)


class InjectTest(unittest.TestCase):
    TP = "00-%s-924a4eb30a79847b-01" % TRACE

    def setUp(self):
        os.environ["TRACESTATE"] = "v=1"

    def tearDown(self):
        os.environ.pop("TRACESTATE", None)

    def test_headers_mapping_is_copied_with_the_header_added(self):
        mine = {"Accept": "json"}
        kw = _otel.inject(lambda url, headers=None: None, ("u",), {"headers": mine}, self.TP)
        self.assertEqual(kw["headers"], {"Accept": "json", "traceparent": self.TP,
                                         "tracestate": "v=1"})
        self.assertEqual(mine, {"Accept": "json"}, "the caller's dict is not changed")

    def test_existing_traceparent_is_kept(self):
        kw = _otel.inject(lambda url, headers=None: None, ("u",),
                          {"headers": {"TraceParent": "x"}}, self.TP)
        self.assertEqual(kw["headers"], {"TraceParent": "x"})

    def test_a_headers_parameter_not_given_gets_one(self):
        def get(url, params=None, headers=None):
            pass
        self.assertEqual(_otel.inject(get, ("u",), {}, self.TP)["headers"]["traceparent"],
                         self.TP)
        # headers passed positionally: left alone
        self.assertEqual(_otel.inject(get, ("u", None, {}), {}, self.TP), {})

    def test_urllib_request_gets_the_header(self):
        req = urllib.request.Request("http://example.invalid/")
        self.assertEqual(_otel.inject(urllib.request.urlopen, (req,), {}, self.TP), {})
        self.assertEqual(req.get_header("Traceparent"), self.TP)

    def test_calls_without_headers_are_untouched(self):
        self.assertEqual(_otel.inject(lambda key: None, ("k",), {}, self.TP), {})
        self.assertEqual(_otel.inject(len, ("k",), {}, self.TP), {})


class FlowTraceparentTest(unittest.TestCase):
    def setUp(self):
        self.files = harness.FlowFiles()

    def tearDown(self):
        self.files.cleanup()

    def test_current_span_and_instrumented_calls_carry_the_context(self):
        r = harness.run_boot(self.files, """
            import json
            from hero_tracing import flow, instrument
            class Api:
                def get(self, url, headers=None):
                    return headers
            @flow
            def f():
                root = flow.traceparent()
                with flow.step("inner"):
                    here = flow.traceparent()
                    sent = instrument(Api(), service="api").get("http://x")
                return {"root": root, "inner": here, "sent": sent}
        """, env=ENV)
        self.assertEqual(r.rc, 0, r.stderr)
        out = r.of_type("result")[0]["output"]
        key = int(KEY, 16)
        inner_id = _otel.span_id(key, r.span("inner")["id"])
        rpc_id = _otel.span_id(key, r.span("api.get")["id"])
        self.assertEqual(out["root"], ENV["TRACEPARENT"], "the root's id is the one in the env")
        self.assertEqual(out["inner"], "00-%s-%016x-01" % (TRACE, inner_id))
        self.assertEqual(out["sent"], {"traceparent": "00-%s-%016x-01" % (TRACE, rpc_id),
                                       "tracestate": "v=1"})

    def test_standalone_has_no_context(self):
        r = harness.run_child(["-c", """
from hero_tracing import flow
print(flow.traceparent())
"""], channel=False, env={"TRACEPARENT": ""})
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertEqual(r.stdout, "None\n")
