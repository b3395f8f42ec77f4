"""OpenTelemetry through `hero_logic serve` (docs/OTEL.md): runs started with a W3C
traceparent (play_start, script_run) continue that trace and see TRACEPARENT; a sub-flow's
child run shares its parent's trace below the `subflow` span; /metrics has the hero_otlp_*
counters; a malformed traceparent is a clear error. The collector is an OTLP/JSON receiver in
this process (http.server)."""
import http.server
import json
import os
import re
import threading
import time

from daemon_harness import DaemonTestCase, src

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
TP = "00-%s-%s-01" % (TRACE, PARENT)

SHOW_TP = src('''
    import os
    from hero_tracing import flow
    @flow(name="show_tp")
    def show_tp():
        with flow.step("inside"):
            here = flow.traceparent()
        return {"env": os.environ.get("TRACEPARENT"), "state": os.environ.get("TRACESTATE"),
                "step": here}
''')

CHILD = src('''
    from hero_tracing import flow
    @flow(name="otel_child")
    def otel_child():
        with flow.step("child_step"):
            return {"ok": True}
''')

PARENT_FLOW = src('''
    from hero_tracing import flow
    @flow(name="otel_parent")
    def otel_parent():
        return flow.invoke("otel_child", spawn=True)
''')


class _Receiver(http.server.BaseHTTPRequestHandler):
    got = []
    lock = threading.Lock()

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with self.lock:
            self.got.append((self.path, self.headers.get("Content-Type"), json.loads(body)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


class OtelDaemonTest(DaemonTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()
        cls.saved = {k: os.environ.get(k) for k in
                     ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL",
                      "OTEL_BSP_SCHEDULE_DELAY")}
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:%d" % cls.server.server_port
        os.environ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/json"
        os.environ["OTEL_BSP_SCHEDULE_DELAY"] = "50"
        try:
            super().setUpClass()
        finally:
            for k, v in cls.saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.server.shutdown()

    def spans_of(self, run_id, count, timeout=20):
        """The exported spans of a run (by hero.run_id), once `count` of them arrived."""
        end = time.time() + timeout
        while True:
            out = []
            with _Receiver.lock:
                for path, ctype, body in _Receiver.got:
                    self.assertEqual(ctype, "application/json")
                    if path != "/v1/traces":
                        continue
                    for rs in body["resourceSpans"]:
                        for ss in rs["scopeSpans"]:
                            for s in ss["spans"]:
                                attrs = {a["key"]: a["value"] for a in s["attributes"]}
                                if attrs["hero.run_id"] == {"intValue": str(run_id)}:
                                    s["attrs"] = attrs
                                    out.append(s)
            if len(out) >= count or time.time() > end:
                return {s["name"]: s for s in out}
            time.sleep(0.05)

    def test_play_start_continues_the_given_trace_and_the_flow_sees_it(self):
        r = self.d.call("play_start", source=SHOW_TP, profile="trusted", traceparent=TP,
                        tracestate="vendor=1")["run"]
        self.assertEqual(r["status"], "ok", r)
        spans = self.spans_of(r["id"], 2)
        root, inside = spans["show_tp"], spans["inside"]
        self.assertEqual(root["traceId"], TRACE)
        self.assertEqual(root["parentSpanId"], PARENT)
        self.assertEqual(inside["parentSpanId"], root["spanId"])
        self.assertEqual(root["traceState"], "vendor=1")
        out = r["output"]
        self.assertEqual(out["env"], "00-%s-%s-01" % (TRACE, root["spanId"]))
        self.assertEqual(out["state"], "vendor=1")
        self.assertEqual(out["step"], "00-%s-%s-01" % (TRACE, inside["spanId"]))

    def test_script_run_takes_traceparent(self):
        r = self.d.call("script_run", source=SHOW_TP, traceparent=TP)
        if r["status"] != "ok" and "untrusted" in json.dumps(r):
            self.skipTest("untrusted profile unavailable here: %s" % r.get("reason"))
        self.assertEqual(r["status"], "ok", r)
        spans = self.spans_of(r["run_id"], 2)
        self.assertIn("show_tp", spans, (spans, r))
        root = spans["show_tp"]
        self.assertEqual(root["traceId"], TRACE)
        self.assertEqual(root["parentSpanId"], PARENT)
        self.assertEqual(r["output"]["env"], "00-%s-%s-01" % (TRACE, root["spanId"]))

    def test_child_run_shares_the_parent_trace_below_its_subflow_span(self):
        self.d.call("flow_create", source=CHILD)
        r = self.d.call("play_start", source=PARENT_FLOW, profile="trusted")["run"]
        self.assertEqual(r["status"], "ok", r)
        parent = self.spans_of(r["id"], 2)
        sub = parent["otel_child"]
        self.assertEqual(sub["kind"], 1)
        child_run = int(sub["attrs"]["hero.child_run_id"]["intValue"])
        child = self.spans_of(child_run, 2)
        self.assertEqual(child["otel_child"]["traceId"], parent["otel_parent"]["traceId"])
        self.assertEqual(child["otel_child"]["parentSpanId"], sub["spanId"])
        self.assertEqual(child["child_step"]["parentSpanId"], child["otel_child"]["spanId"])
        self.assertNotIn("parentSpanId", parent["otel_parent"])  # a new trace: a real root

    def test_metrics_count_exported_spans(self):
        r = self.d.call("play_start", source=SHOW_TP, profile="trusted")["run"]
        self.spans_of(r["id"], 2)
        _, body = self.d.http("GET", "/metrics")
        text = body.decode()
        m = re.search(r"^hero_otlp_exported_spans_total (\d+)$", text, re.M)
        self.assertIsNotNone(m, text)
        self.assertGreaterEqual(int(m.group(1)), 2)
        for name in ("hero_otlp_dropped_spans_total", "hero_otlp_failed_batches_total"):
            self.assertRegex(text, r"(?m)^%s 0$" % name)

    def test_malformed_traceparent_is_a_clear_error(self):
        e = self.d.error("play_start", source=SHOW_TP, traceparent="00-nope")
        self.assertEqual(e["data"]["status"], "INVALID_ARGUMENT", e)
        self.assertIn("traceparent", e["message"])
        e = self.d.error("script_run", source=SHOW_TP, tracestate="a=b")
        self.assertIn("tracestate", e["message"])
