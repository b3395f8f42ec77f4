"""Flow secrets: a flow gets exactly the secrets its @flow(secrets=[...]) asks for (trusted and
untrusted), script_run gets none unless script_run_secrets grants them, and no secret value
reaches anything the daemon stores or answers: span tags, logs, tracebacks, outputs, inputs,
reasons, script_run answers, SSE events, /metrics, the SQLite files, its own log, or any
process's argv."""
import glob
import http.server
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "daemon"))
from daemon_harness import Daemon, SseReader  # noqa: E402

GRANTED = "s3cr3t-granted-\"quoted\"-0123456789"
OTHER = "s3cr3t-other-abcdefghij"

LEAKY = """import os, sys, time
from hero_tracing import flow

@flow(secrets=["GRANTED_KEY"])
def leaky(fail: bool = False, sleep_s: float = 0, note: str = ""):
    key = os.environ.get("GRANTED_KEY")
    with flow.step("use", key=key or "none"):
        print("stdout has", key)
        sys.stderr.write("stderr has %s\\n" % key)
        flow.log("log has " + str(key))
        time.sleep(sleep_s)
    if fail:
        raise ValueError("bad key " + str(key))
    return {"has_granted": key is not None, "has_other": "OTHER_KEY" in os.environ, "echo": key}
"""


def write_config(path, script_run_secrets=()):
    with open(path, "w") as f:
        if script_run_secrets:  # a top-level key: before the [secrets] table
            f.write("script_run_secrets = %s\n" % json.dumps(list(script_run_secrets)))
        f.write("[secrets]\nGRANTED_KEY = %s\nOTHER_KEY = %s\n" % (json.dumps(GRANTED), json.dumps(OTHER)))
    os.chmod(path, 0o600)


class SecretsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hero_secrets_")
        cls.config = os.path.join(cls.tmp, "config.toml")
        write_config(cls.config)
        cls.d = Daemon(os.path.join(cls.tmp, "data"), "--pool", "1", "--config", cls.config)

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def assertClean(self, blob, what):
        if isinstance(blob, (dict, list)):
            blob = json.dumps(blob)
        if isinstance(blob, bytes):
            blob = blob.decode("utf-8", "replace")
        for value in (GRANTED, OTHER, json.dumps(GRANTED)[1:-1]):
            self.assertNotIn(value, blob, what)

    def run_doc(self, profile, **inputs):
        return self.d.call("play_start", source=LEAKY, profile=profile, input=inputs, timeout_ms=30000)

    def check_granted_run(self, doc):
        run = doc["run"]
        self.assertEqual(run["status"], "ok", run)
        self.assertEqual(run["output"]["has_granted"], True)
        self.assertEqual(run["output"]["has_other"], False)
        self.assertEqual(run["output"]["echo"], "[secret GRANTED_KEY]")
        self.assertClean(doc, "play_start answer")
        rid = run["id"]
        self.assertClean(self.d.call("play_spans", run_id=rid), "play_spans")
        logs = self.d.call("play_logs", run_id=rid)
        self.assertIn("stdout has [secret GRANTED_KEY]\n", [l["text"] for l in logs])
        self.assertClean(logs, "play_logs")
        self.assertClean(self.d.call("play_status", run_id=rid), "play_status")
        # The live stream (replayed from the run's event log) carries the same redacted copies.
        sse = SseReader(self.d.port, rid)
        try:
            events = list(sse.events(until=lambda e: e[1] == "end", deadline=10))
        finally:
            sse.close()
        self.assertTrue(events)
        self.assertIn("[secret GRANTED_KEY]", json.dumps(events))
        self.assertClean(events, "SSE events")

    def test_trusted_flow_gets_only_its_declared_secret(self):
        self.check_granted_run(self.run_doc("trusted"))

    def test_untrusted_flow_gets_only_its_declared_secret(self):
        self.check_granted_run(self.run_doc("untrusted"))

    def test_library_flow_gets_its_declared_secret(self):
        self.d.call("flow_create", source=LEAKY)
        doc = self.d.call("play_start", flow="leaky", profile="trusted", timeout_ms=30000)
        self.check_granted_run(doc)

    def test_traceback_reason_and_input_are_redacted(self):
        doc = self.d.call("play_start", source=LEAKY, profile="trusted",
                          input={"fail": True, "note": OTHER}, timeout_ms=30000)
        run = doc["run"]
        self.assertEqual(run["status"], "failed", run)
        self.assertIn("[secret GRANTED_KEY]", run["reason"])
        root = doc["tree"]
        self.assertIn("[secret GRANTED_KEY]", root["traceback"])
        self.assertIn("[secret OTHER_KEY]", json.dumps(run["input"]))
        self.assertClean(doc, "failed run document")
        self.assertClean(self.d.call("play_status", run_id=run["id"]), "failed run record")

    def test_script_run_gets_no_secret_without_a_grant(self):
        ans = self.d.call("script_run", source=LEAKY, timeout_ms=30000)
        self.assertClean(ans, "script_run answer")
        self.assertEqual(ans["output"]["has_granted"], False, ans)

    def test_secret_values_are_not_in_argv_while_a_run_is_alive(self):
        rid = self.d.call("play_run_async", source=LEAKY, profile="untrusted",
                          input={"sleep_s": 3})["run_id"]
        deadline = time.time() + 20
        seen_running = False
        while time.time() < deadline and not seen_running:
            seen_running = self.d.call("play_status", run_id=rid)["status"] == "running"
            time.sleep(0.1)
        time.sleep(0.5)
        for cmdline in glob.glob("/proc/[0-9]*/cmdline"):
            try:
                with open(cmdline, "rb") as f:
                    self.assertClean(f.read(), cmdline)
            except OSError:
                pass
        self.assertEqual(self.d.call("play_wait", run_id=rid, timeout_ms=30000)["status"], "ok")

    def test_z_nothing_stored_or_served_holds_a_secret(self):
        # Runs after the others (name order): everything they stored is checked at once.
        status, metrics = self.d.http("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertClean(metrics, "/metrics")
        self.d.call("play_list", limit=100)
        self.assertClean(self.d.call("play_list", limit=100), "play_list")
        time.sleep(0.5)  # group commit
        data = os.path.join(self.tmp, "data")
        for path in glob.glob(os.path.join(data, "hero_logic.db*")):
            with open(path, "rb") as f:
                self.assertClean(f.read(), path)
        self.assertClean(self.d.log().encode(), "daemon log")


class ScriptRunGrantTest(unittest.TestCase):
    def test_script_run_gets_exactly_the_granted_secrets(self):
        tmp = tempfile.mkdtemp(prefix="hero_secrets_grant_")
        try:
            config = os.path.join(tmp, "config.toml")
            write_config(config, script_run_secrets=["GRANTED_KEY"])
            d = Daemon(os.path.join(tmp, "data"), "--pool", "0", "--config", config)
            try:
                ans = d.call("script_run", source=LEAKY, timeout_ms=30000)
                text = json.dumps(ans)
                self.assertIn("[secret GRANTED_KEY]", text)
                self.assertNotIn(GRANTED, text)
                self.assertNotIn(OTHER, text)
            finally:
                d.stop()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class BrokerHandler(http.server.BaseHTTPRequestHandler):
    """A minimal OpenAI-compatible broker that records the Authorization header it got."""
    seen = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        BrokerHandler.seen.append((self.path, self.headers.get("Authorization"), json.loads(body)))
        out = json.dumps({"model": "test-model", "choices": [{"message": {"role": "assistant",
                          "content": "pong"}}], "usage": {"prompt_tokens": 3, "completion_tokens": 1}})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out.encode())

    def log_message(self, *args):
        pass


class BuiltinFlowReachesBrokerTest(unittest.TestCase):
    def test_model_call_gets_url_and_key_from_the_operators_secrets(self):
        broker = http.server.ThreadingHTTPServer(("127.0.0.1", 0), BrokerHandler)
        threading.Thread(target=broker.serve_forever, daemon=True).start()
        tmp = tempfile.mkdtemp(prefix="hero_secrets_broker_")
        key = "sk-broker-test-0123456789"
        url = "http://127.0.0.1:%d/v1" % broker.server_address[1]
        try:
            config = os.path.join(tmp, "config.toml")
            with open(config, "w") as f:
                f.write("[secrets]\nHERO_AIBROKER_KEY = %s\nHERO_AIBROKER_URL = %s\n"
                        % (json.dumps(key), json.dumps(url)))
            os.chmod(config, 0o600)
            repo = os.environ.get("HERO_REPO", os.path.join(os.path.dirname(__file__), "..", ".."))
            d = Daemon(os.path.join(tmp, "data"), "--pool", "0", "--config", config,
                       flows_dir=os.path.join(repo, "builtin_flows"))
            try:
                # No endpoint input: the URL and the key come from the secrets.
                doc = d.call("play_start", flow="model_call", profile="trusted",
                             input={"prompt": "ping", "model": "test-model"}, timeout_ms=30000)
                self.assertEqual(doc["run"]["status"], "ok", doc["run"])
                self.assertEqual(doc["run"]["output"]["content"], "pong")
                self.assertEqual(BrokerHandler.seen[-1][0], "/v1/chat/completions")
                self.assertEqual(BrokerHandler.seen[-1][1], "Bearer " + key)
                text = json.dumps(doc)
                self.assertNotIn(key, text)
                self.assertNotIn(url, text)
            finally:
                d.stop()
        finally:
            broker.shutdown()
            broker.server_close()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
