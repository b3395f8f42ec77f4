"""JSON-RPC methods of `hero_logic serve`: happy paths and error paths (SPEC §6)."""
import json
import os
import random
import subprocess
import time
import unittest

from daemon_harness import DaemonTestCase, RpcError, src

HELLO = src('''
    from hero_tracing import flow
    @flow(name="hello", description="Greets someone", inputs={"name": str})
    def hello(name="world"):
        """Says hello."""
        with flow.step("greet"):
            print("hello", name)
        return {"greeting": "hello " + name}
''')
SLEEPER = src('''
    import time
    from hero_tracing import flow
    @flow(name="sleeper")
    def sleeper(s=30):
        with flow.step("nap"):
            time.sleep(s)
''')
FAILING = src('''
    from hero_tracing import flow
    @flow(name="bad")
    def bad():
        with flow.step("load"):
            pass
        with flow.step("parse"):
            print("parsing the thing")
            raise ValueError("bad token at 3")
''')
ALL_METHODS = {"flow_create", "flow_update", "flow_get", "flow_list", "flow_delete", "flow_versions",
               "flow_set_current", "flow_library_search", "example_create", "example_list", "example_delete",
               "play_start", "play_run_async", "play_wait", "play_status", "play_cancel", "play_retry",
               "play_list", "play_spans", "play_logs", "script_run", "span_push"}


class ProtocolTest(DaemonTestCase):
    def test_discover_lists_every_method(self):
        doc = self.d.call("rpc.discover")
        self.assertTrue(doc["openrpc"].startswith("1."))
        names = {m["name"] for m in doc["methods"]}
        self.assertLessEqual(ALL_METHODS, names)
        for m in doc["methods"]:
            self.assertTrue(m.get("summary") or m.get("description"), m["name"])

    def test_unknown_method(self):
        self.assertEqual(self.d.error("no_such_method")["code"], -32601)

    def test_wrong_param_types(self):
        e = self.d.error("play_status", run_id="seven")
        self.assertEqual(e["code"], -32602)
        self.assertIn("run_id", e["message"])
        e = self.d.error("play_start", source=12)
        self.assertEqual(e["code"], -32602)
        self.assertIn("source", e["message"])

    def test_unknown_run(self):
        for m in ("play_status", "play_wait", "play_spans", "play_logs", "play_retry", "play_cancel"):
            e = self.d.error(m, run_id=987654)
            self.assertEqual(e["code"], -32011, m)
            self.assertEqual(e["message"], "run 987654 not found", m)

    def test_bad_domain_input_names_the_field(self):
        e = self.d.error("play_start", source="pass", profile="root")
        self.assertEqual(e["code"], -32010)
        self.assertIn("profile", e["message"])
        e = self.d.error("play_start", source="pass", flow="x")
        self.assertIn("flow", e["message"])
        e = self.d.error("play_list", status="weird")
        self.assertIn("status", e["message"])
        e = self.d.error("play_start", source="pass", timeout_ms=0)
        self.assertIn("timeout_ms", e["message"])

    def test_malformed_and_oversize_bodies(self):
        status, resp = self.d.post(b'{"jsonrpc":"2.0","id":1,"method":')
        self.assertEqual(resp["error"]["code"], -32700)
        big = os.path.join(self.d.data, "big.json")
        with open(big, "wb") as f:
            f.write(b'{"jsonrpc":"2.0","id":1,"method":"flow_list","params":{"x":"' + b"a" * (9 << 20) + b'"}}')
        # curl over the Unix socket copes with the early 413 answer.
        p = subprocess.run(["curl", "-s", "-w", "\\n%{http_code}", "--unix-socket", self.d.sock,
                            "-H", "Content-Type: application/json", "--data-binary", "@" + big,
                            "http://localhost/rpc"], capture_output=True, text=True, timeout=30)
        body, _, code = p.stdout.rpartition("\n")
        self.assertEqual(code, "413", p.stdout[-300:])
        self.assertEqual(json.loads(body)["error"]["code"], -32600)

    def test_batch_and_notification(self):
        status, resp = self.d.post([
            {"jsonrpc": "2.0", "id": 1, "method": "flow_list"},
            {"jsonrpc": "2.0", "id": 2, "method": "play_status", "params": {"run_id": 424242}},
            {"jsonrpc": "2.0", "method": "flow_list"},
        ])
        self.assertEqual(sorted(r["id"] for r in resp), [1, 2])
        by_id = {r["id"]: r for r in resp}
        self.assertIn("result", by_id[1])
        self.assertEqual(by_id[2]["error"]["code"], -32011)

    def test_health_and_metrics(self):
        status, data = self.d.http("GET", "/healthz")
        self.assertEqual(status, 200)
        h = json.loads(data)
        self.assertTrue(h["ok"])
        for k in ("active_runs", "queued", "untrusted_available", "version"):
            self.assertIn(k, h["backend"])
        status, data = self.d.http("GET", "/metrics")
        text = data.decode()
        for name in ("hero_runs_total{status=\"ok\"}", "hero_runs_active", "hero_queue_length",
                     "hero_span_events_total", "hero_dropped_events_total", "hero_loop_lag_seconds"):
            self.assertIn(name, text)

    def test_fuzz_mutated_requests_daemon_stays_healthy(self):
        rng = random.Random(4)
        seeds = [
            {"jsonrpc": "2.0", "id": 1, "method": "play_status", "params": {"run_id": 1}},
            {"jsonrpc": "2.0", "id": 2, "method": "flow_library_search", "params": {"query": "x", "limit": 3}},
            {"jsonrpc": "2.0", "id": 3, "method": "play_list", "params": {"limit": 2, "status": "ok"}},
            {"jsonrpc": "2.0", "id": 4, "method": "flow_get", "params": {"name": "hello"}},
            {"jsonrpc": "2.0", "id": 5, "method": "span_push", "params": {"run_id": 1, "event": {"type": "span_start"}}},
            [{"jsonrpc": "2.0", "id": 6, "method": "example_list"}],
        ]
        values = [None, True, -1, 0, 2 ** 63, 1e308, "", "\u0000", "x" * 300, [], {}, [1, [2]], {"a": {"b": 1}},
                  "' OR 1=1 --", "\"NEAR(", "*", "../../etc/passwd"]
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=30)
        for i in range(2000):
            req = json.loads(json.dumps(rng.choice(seeds)))
            target = req[0] if isinstance(req, list) else req
            for _ in range(rng.randint(1, 3)):
                op = rng.random()
                keys = list(target.keys())
                if op < 0.3 and keys:
                    target[rng.choice(keys)] = rng.choice(values)
                elif op < 0.5 and isinstance(target.get("params"), dict) and target["params"]:
                    k = rng.choice(list(target["params"]))
                    target["params"][k] = rng.choice(values)
                elif op < 0.6:
                    target["method"] = rng.choice(["play_cancel", "rpc.discover", "flow_delete", "", "play_wait"])
                elif op < 0.7 and keys:
                    del target[rng.choice(keys)]
                else:
                    target[rng.choice(["extra", "params", "id"])] = rng.choice(values)
            body = json.dumps(req).encode()
            if rng.random() < 0.15:
                cut = rng.randint(0, len(body))
                body = body[:cut] + bytes([rng.randint(0, 255)]) + body[cut + 1:]
            # Never cancel or wait for long on real runs: the fuzz targets the parser.
            if b"play_wait" in body:
                body = body.replace(b"play_wait", b"play_status")
            if b"flow_delete" in body:
                body = body.replace(b"flow_delete", b"flow_versions")
            c.request("POST", "/rpc", body=body, headers={"Content-Type": "application/json"})
            r = c.getresponse()
            data = r.read()
            self.assertIn(r.status, (200, 204, 400, 413), data[:200])
            if data:
                json.loads(data)
            if r.getheader("connection", "").lower() == "close":
                c.close()
                c = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=30)
        c.close()
        status, data = self.d.http("GET", "/healthz")
        self.assertEqual(status, 200)
        self.assertTrue(json.loads(data)["ok"])
        self.assertEqual(self.d.call("play_list", limit=1)["runs"].__class__, list)


class FlowLibraryTest(DaemonTestCase):
    def test_create_get_update_versions_set_current_delete(self):
        f = self.d.call("flow_create", source=HELLO)
        self.assertEqual((f["name"], f["version"]), ("hello", 1))
        self.assertEqual(f["inputs"], {"name": "str"})
        self.assertEqual(self.d.error("flow_create", source=HELLO)["code"], -32012)
        g = self.d.call("flow_get", name="hello")
        self.assertEqual(g["source"], HELLO)
        self.assertEqual(g["docstring"], "Says hello.")
        self.assertEqual(g["versions"], [1])
        u = self.d.call("flow_update", name="hello", source=HELLO.replace("Greets someone", "Greets anyone"))
        self.assertEqual(u["version"], 2)
        self.assertEqual(self.d.call("flow_get", name="hello")["description"], "Greets anyone")
        self.assertEqual(self.d.call("flow_get", name="hello", version=1)["description"], "Greets someone")
        vs = self.d.call("flow_versions", name="hello")
        self.assertEqual([v["version"] for v in vs], [2, 1])
        self.assertTrue(vs[0]["current"])
        self.d.call("flow_set_current", name="hello", version=1)
        self.assertEqual(self.d.call("flow_get", name="hello")["version"], 1)
        self.assertIn("hello", [x["name"] for x in self.d.call("flow_list")])
        # run it from the library
        doc = self.d.call("play_start", flow="hello", input={"name": "Ada"}, timeout_ms=20000)
        self.assertEqual(doc["run"]["status"], "ok", doc["run"])
        self.assertEqual(doc["run"]["output"], {"greeting": "hello Ada"})
        self.assertEqual(doc["run"]["flow"], "hello")
        self.assertEqual(doc["run"]["flow_version"], 1)
        self.d.call("flow_delete", name="hello")
        self.assertEqual(self.d.error("flow_get", name="hello")["code"], -32011)
        self.assertEqual(self.d.error("play_start", flow="hello")["code"], -32011)

    def test_plain_script_flow_needs_a_name(self):
        e = self.d.error("flow_create", source="print('x')\n")
        self.assertIn("name", e["message"])
        f = self.d.call("flow_create", source="print('x')\n", name="plain_one", description="a plain script")
        self.assertEqual(f["description"], "a plain script")

    def test_syntax_error_is_invalid_argument(self):
        e = self.d.error("flow_create", source="def (:\n", name="broken")
        self.assertEqual(e["code"], -32010)
        self.assertIn("source", e["message"])

    def test_search_ranks_name_match_above_docstring_match(self):
        self.d.call("flow_create", name="invoice_parser", source=src('''
            from hero_tracing import flow
            @flow(name="invoice_parser", description="Reads PDFs")
            def f():
                """Extracts fields."""
        '''))
        self.d.call("flow_create", name="mailer", source=src('''
            from hero_tracing import flow
            @flow(name="mailer", description="Sends mail")
            def f():
                """Mails each invoice to the customer."""
        '''))
        hits = self.d.call("flow_library_search", query="invoice", limit=5)
        names = [h["name"] for h in hits]
        self.assertEqual(names[:2], ["invoice_parser", "mailer"])
        self.assertGreater(hits[0]["score"], hits[1]["score"])
        for h in hits:
            self.assertIn("snippet", h)
            self.assertIn("description", h)

    def test_hostile_search_queries_never_fail(self):
        for q in ['"', "NEAR(a b", "a OR", "*", "invoice*", "-x", "col:val", "'; DROP TABLE runs; --",
                  "\u0000", "x" * 100000, "((((", "AND AND"]:
            self.assertIsInstance(self.d.call("flow_library_search", query=q), list, q)
        self.assertEqual(self.d.error("flow_library_search", query="x", limit=0)["code"], -32010)

    def test_examples(self):
        self.d.call("flow_create", name="ex_flow", source=HELLO.replace('"hello"', '"ex_flow"'))
        e = self.d.call("example_create", flow="ex_flow", name="ada", input={"name": "Ada"})
        self.assertEqual(e["input"], {"name": "Ada"})
        self.assertEqual([x["name"] for x in self.d.call("example_list", flow="ex_flow")], ["ada"])
        self.assertEqual(self.d.error("example_create", flow="nope", name="x", input={})["code"], -32011)
        self.d.call("example_delete", id=e["id"])
        self.assertEqual(self.d.call("example_list", flow="ex_flow"), [])
        self.assertEqual(self.d.error("example_delete", id=e["id"])["code"], -32011)


class RunsTest(DaemonTestCase):
    def test_play_start_waits_and_returns_tree(self):
        doc = self.d.call("play_start", source=HELLO, profile="trusted", input={"name": "Bo"}, timeout_ms=20000)
        self.assertEqual(doc["run"]["status"], "ok", doc["run"])
        names = [s["name"] for s in self.walk(doc["tree"])]
        self.assertEqual(names, ["hello", "greet"])
        greet = doc["tree"]["children"][0]
        self.assertEqual(greet["logs"][0]["text"], "hello Bo\n")

    def test_play_start_wait_ends_first(self):
        doc = self.d.call("play_start", source=SLEEPER, profile="trusted", input={"s": 2}, wait_ms=200)
        self.assertEqual(doc["run"]["status"], "running")
        self.assertIsNone(doc["tree"])
        self.d.call("play_cancel", run_id=doc["run"]["id"])

    def test_run_async_wait_status_spans_logs(self):
        rid = self.d.call("play_run_async", source=HELLO, profile="trusted")["run_id"]
        rec = self.d.call("play_wait", run_id=rid, timeout_ms=20000)
        self.assertEqual(rec["status"], "ok")
        self.assertEqual(self.d.call("play_status", run_id=rid)["status"], "ok")
        tree = self.d.call("play_spans", run_id=rid)
        self.assertEqual(tree["name"], "hello")
        logs = self.d.call("play_logs", run_id=rid)
        self.assertEqual([(l["span_id"], l["text"]) for l in logs], [("2", "hello world\n")])
        self.assertEqual(self.d.call("play_logs", run_id=rid, span_id="1"), [])
        self.assertEqual(self.d.error("play_logs", run_id=rid, span_id="nope")["code"], -32011)

    def test_play_wait_timeout_returns_running(self):
        rid = self.d.call("play_run_async", source=SLEEPER, profile="trusted", input={"s": 5})["run_id"]
        rec = self.d.call("play_wait", run_id=rid, timeout_ms=100)
        self.assertIn(rec["status"], ("queued", "running"))
        self.d.call("play_cancel", run_id=rid)
        self.assertEqual(self.d.call("play_wait", run_id=rid, timeout_ms=10000)["status"], "cancelled")

    def test_cancel_running_run(self):
        rid = self.d.call("play_run_async", source=SLEEPER, profile="trusted")["run_id"]
        self.wait_status(rid, {"running"})
        time.sleep(0.3)  # let the step start
        self.d.call("play_cancel", run_id=rid)
        rec = self.d.call("play_wait", run_id=rid, timeout_ms=10000)
        self.assertEqual(rec["status"], "cancelled")
        for s in self.walk(self.d.call("play_spans", run_id=rid)):
            self.assertNotEqual(s["status"], "running", s)
        # cancelling an ended run leaves it as it is
        self.assertEqual(self.d.call("play_cancel", run_id=rid)["status"], "cancelled")

    def test_retry(self):
        rid = self.d.call("play_run_async", source=HELLO, profile="trusted", input={"name": "Cy"})["run_id"]
        self.d.call("play_wait", run_id=rid, timeout_ms=20000)
        rid2 = self.d.call("play_retry", run_id=rid)["run_id"]
        self.assertNotEqual(rid, rid2)
        rec = self.d.call("play_wait", run_id=rid2, timeout_ms=20000)
        self.assertEqual((rec["status"], rec["input"], rec["profile"]), ("ok", {"name": "Cy"}, "trusted"))
        self.assertEqual(rec["output"], {"greeting": "hello Cy"})

    def test_play_list_filters_and_cursor(self):
        ids = []
        for i in range(5):
            ids.append(self.d.call("play_run_async", source=HELLO if i % 2 else FAILING, profile="trusted")["run_id"])
        for r in ids:
            self.d.call("play_wait", run_id=r, timeout_ms=20000)
        seen = []
        cursor = None
        while True:
            params = {"limit": 2, "since_us": 0}
            if cursor:
                params["cursor"] = cursor
            page = self.d.call("play_list", **params)
            seen += [r["id"] for r in page["runs"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        self.assertEqual(seen, sorted(seen, reverse=True))
        self.assertEqual(len(seen), len(set(seen)))
        self.assertLessEqual(set(ids), set(seen))
        failed = self.d.call("play_list", status="failed", limit=100)["runs"]
        self.assertTrue(all(r["status"] == "failed" for r in failed))
        self.assertLessEqual({ids[0], ids[2], ids[4]}, {r["id"] for r in failed})
        self.assertEqual(self.d.call("play_list", text="ValueError", limit=100)["runs"][0]["status"], "failed")
        self.assertEqual(self.d.call("play_list", until_us=1, limit=10)["runs"], [])

    def test_span_push_applies_to_active_run_only(self):
        rid = self.d.call("play_run_async", source=SLEEPER, profile="trusted")["run_id"]
        self.wait_status(rid, {"running"})
        time.sleep(0.3)
        self.d.call("span_push", run_id=rid, event={"type": "span_start", "id": "pushed", "parent": "1",
                                                    "name": "from_test", "kind": "step", "ts": int(time.time() * 1e6)})
        e = self.d.error("span_push", run_id=rid, event={"type": "span_start"})
        self.assertEqual(e["code"], -32010)
        self.d.call("play_cancel", run_id=rid)
        self.d.call("play_wait", run_id=rid, timeout_ms=10000)
        names = [s["name"] for s in self.walk(self.d.call("play_spans", run_id=rid))]
        self.assertIn("from_test", names)
        self.assertEqual(self.d.error("span_push", run_id=rid, event={"type": "hello"})["code"], -32011)

    def test_script_run_failure_summary(self):
        r = self.d.call("script_run", source=FAILING, timeout_ms=20000)
        self.assertEqual(r["status"], "failed")
        self.assertEqual(r["failure"]["span"], "parse")
        self.assertEqual(r["failure"]["path"], "bad/parse")
        self.assertEqual(r["failure"]["error_type"], "ValueError")
        self.assertIn("bad token at 3", r["failure"]["error"])
        self.assertIn("ValueError", r["failure"]["traceback"])
        self.assertIn("parsing the thing", r["failure"]["log_tail"])
        self.assertEqual(r["tree"]["name"], "bad")
        rec = self.d.call("play_status", run_id=r["run_id"])
        self.assertEqual(rec["profile"], "untrusted")

    def test_script_run_plain_script(self):
        r = self.d.call("script_run", source="import sys\nprint('plain output')\nsys.exit(0)\n", timeout_ms=20000)
        self.assertEqual(r["status"], "ok", r)
        self.assertIsNone(r["failure"])
        self.assertIn("plain output", json.dumps(r["tree"]))
        r = self.d.call("script_run", source="raise SystemExit(3)\n", timeout_ms=20000)
        self.assertEqual(r["status"], "failed")
        self.assertIsNotNone(r["failure"])

    def test_script_run_answer_is_bounded_and_keeps_the_failure(self):
        # 3,000 ok steps, then a failing one: the agent's answer holds the first 2,000 spans
        # plus the failed ones after them, says so, and still names the failure.
        src = ("from hero_tracing import flow\n"
               "@flow\n"
               "def many():\n"
               "    for i in range(3000):\n"
               "        with flow.step('s%d' % i):\n"
               "            pass\n"
               "    with flow.step('last'):\n"
               "        raise ValueError('the end')\n")
        r = self.d.call("script_run", source=src, timeout_ms=60000, _timeout=90)
        self.assertEqual(r["status"], "failed", r.get("reason"))
        names = [n["name"] for n in self.walk(r["tree"])]
        self.assertLessEqual(len(names), 2000 + 200)
        self.assertIn("last", names)
        self.assertEqual(r["tree_truncated"]["spans_total"], 3002)
        self.assertEqual(r["tree_truncated"]["spans_shown"], len(names))
        self.assertEqual(r["failure"]["span"], "last")
        self.assertIn("the end", r["failure"]["error"])
        whole = [n["name"] for n in self.walk(self.d.call("play_spans", run_id=r["run_id"]))]
        self.assertEqual(len(whole), 3002)
        small = self.d.call("script_run", source="print('x')\n", timeout_ms=20000)
        self.assertIsNone(small["tree_truncated"])  # always present; null = the whole tree

    def test_script_run_ignores_profile_and_is_untrusted(self):
        e = self.d.error("script_run", source="pass", profile="trusted")
        self.assertEqual(e["code"], -32602)  # not a param of script_run: never a way to Tier 0


class CallChannelTest(DaemonTestCase):
    def test_spawned_child_run_is_linked(self):
        self.d.call("flow_create", source=src('''
            from hero_tracing import flow
            @flow(name="child_flow", description="doubles x")
            def child_flow(x=1):
                return {"y": x * 2}
        '''))
        doc = self.d.call("play_start", profile="trusted", timeout_ms=30000, source=src('''
            from hero_tracing import flow
            @flow(name="parent_flow")
            def parent_flow():
                hits = flow.call("flow_library_search", {"query": "child_flow"})
                flow.tag(first_hit=hits[0]["name"])
                return flow.invoke("child_flow", spawn=True, x=21)
        '''))
        self.assertEqual(doc["run"]["status"], "ok", doc)
        self.assertEqual(doc["run"]["output"], {"y": 42})
        self.assertEqual(doc["tree"]["tags"]["first_hit"], "child_flow")
        sub = [s for s in self.walk(doc["tree"]) if s["kind"] == "subflow"]
        self.assertEqual(len(sub), 1)
        child_id = sub[0]["child_run_id"]
        child = self.d.call("play_status", run_id=child_id)
        self.assertEqual(child["parent_run"], doc["run"]["id"])
        self.assertEqual(child["parent_span"], sub[0]["id"])
        self.assertEqual(child["flow"], "child_flow")

    def test_child_of_untrusted_run_is_untrusted(self):
        self.d.call("flow_create", name="leaf", source="print('leaf')\n")
        r = self.d.call("script_run", timeout_ms=30000, source=src('''
            from hero_tracing import flow
            @flow(name="p")
            def p():
                return flow.invoke("leaf", spawn=True)
        '''))
        self.assertEqual(r["status"], "ok", r)
        child_id = [s for s in self.walk(r["tree"]) if s["kind"] == "subflow"][0]["child_run_id"]
        self.assertEqual(self.d.call("play_status", run_id=child_id)["profile"], "untrusted")

    def test_not_allowlisted_and_foreign_runs_refused(self):
        other = self.d.call("play_run_async", source="print(1)\n", profile="trusted")["run_id"]
        self.d.call("play_wait", run_id=other, timeout_ms=20000)
        doc = self.d.call("play_start", profile="trusted", timeout_ms=30000, source=src('''
            from hero_tracing import flow
            @flow(name="abuser")
            def abuser(other=0):
                out = {}
                for m, p in [("script_run", {"source": "print(1)"}), ("play_cancel", {"run_id": other}),
                             ("span_push", {"run_id": other, "event": {}}), ("play_wait", {"run_id": other})]:
                    try:
                        flow.call(m, p)
                        out[m] = "ALLOWED"
                    except Exception as e:
                        out[m] = str(e)
                return out
        '''), input={"other": other})
        out = doc["run"]["output"]
        for m in ("script_run", "play_cancel", "span_push"):
            self.assertIn("method not allowed: " + m, out[m])
        self.assertIn("not a child of this run", out["play_wait"])

    def test_child_count_cap(self):
        self.d.call("flow_create", name="tiny", source="pass\n")
        doc = self.d.call("play_start", profile="trusted", timeout_ms=60000, source=src('''
            from hero_tracing import flow
            @flow(name="fan")
            def fan():
                ok, errors = 0, []
                for i in range(22):
                    try:
                        flow.call("play_run_async", {"flow": "tiny"})
                        ok += 1
                    except Exception as e:
                        errors.append(str(e))
                return {"ok": ok, "errors": errors}
        '''))
        out = doc["run"]["output"]
        self.assertEqual(out["ok"], 20, out)
        self.assertIn("child run limit 20", out["errors"][0])


if __name__ == "__main__":
    unittest.main()
