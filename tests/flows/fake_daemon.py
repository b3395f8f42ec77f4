"""A fake hero_logic daemon for the `call` channel of tests/py/harness.py: answers the
allowlisted methods (flow_library_search, flow_get, example_list, play_run_async, play_wait)
from test data. A child run of a `source` really runs it (python3 -m hero_tracing.boot, no
channel) and records status, reason, output and the last stderr line; a child run of a library
flow is answered by a function of its input."""

import json
import os
import subprocess
import tempfile

from flow_harness import harness


class FakeDaemon:
    def __init__(self, hits=(), flows=None, sources=None, examples=None, source_runner=None):
        self.hits = list(hits)              # flow_library_search answer
        self.flows = dict(flows or {})      # name -> fn(input) -> (status, output, reason)
        self.sources = dict(sources or {})  # name -> flow_get answer
        self.examples = dict(examples or {})  # flow -> example_list answer
        self.source_runner = source_runner  # fn(params) -> (status, output, reason), else exec
        self.calls = []                     # (method, params) in order
        self.runs = {}
        self.next_id = 100
        self.clock = 1_700_000_000_000_000

    def methods(self):
        return [m for m, _ in self.calls]

    def params_of(self, method):
        return [p for m, p in self.calls if m == method]

    def answer(self, method, params):
        self.calls.append((method, params))
        if method == "flow_library_search":
            return self.hits
        if method == "flow_get":
            got = self.sources.get(params.get("name"))
            return got if got is not None else harness.CallFailure(
                -32004, "flow '%s' not found" % params.get("name"))
        if method == "example_list":
            return self.examples.get(params.get("flow"), [])
        if method == "play_run_async":
            rid = self.next_id
            self.next_id += 1
            if "source" in params and self.source_runner is not None:
                status, output, reason = self.source_runner(params)
                tail = ""
            elif "source" in params:
                status, output, reason, tail = self._exec(params["source"],
                                                          params.get("input") or {})
            else:
                fn = self.flows.get(params.get("flow"))
                if fn is None:
                    return harness.CallFailure(-32004, "flow '%s' not found" % params.get("flow"))
                status, output, reason = fn(params.get("input") or {})
                tail = ""
            duration = 1000 * (10 + 5 * (rid % 3))
            self.runs[rid] = {"id": rid, "status": status, "output": output, "reason": reason,
                              "stderr_tail": tail, "parent_span": params.get("parent_span"),
                              "started_us": self.clock, "ended_us": self.clock + duration,
                              "profile": params.get("profile", "trusted")}
            self.clock += duration
            return {"run_id": rid}
        if method == "play_wait":
            rec = self.runs.get(params.get("run_id"))
            return rec if rec is not None else harness.CallFailure(-32004, "unknown run")
        return harness.CallFailure(-32601, "method not allowed: %s" % method)

    def _exec(self, source, inp):
        with tempfile.TemporaryDirectory(prefix="hero-fake-run-") as d:
            path = os.path.join(d, "script.py")
            with open(path, "w") as f:
                f.write(source)
            p = subprocess.run([harness.PYTHON, "-m", "hero_tracing.boot", path, "--input",
                                json.dumps(inp)], capture_output=True, text=True, timeout=60,
                               env={"PATH": "/usr/bin:/bin", "PYTHONPATH": harness.PY_DIR,
                                    "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"})
        last = ([l for l in p.stderr.splitlines() if l.strip()] or [""])[-1]
        if p.returncode == 0:
            out = None
            lines = [l for l in p.stdout.splitlines() if l.strip()]
            if lines:
                try:
                    out = json.loads(lines[-1])
                except ValueError:
                    out = lines[-1]
            return "ok", out, "ok", ""
        return "failed", None, "exit code %d: %s" % (p.returncode, last), last
