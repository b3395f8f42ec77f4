"""Helpers for the built-in flow tests: the recorded-answer model server fixture as a context,
span-tree shapes from a harness Run (tests/py/harness.py: a fake supervisor on a real
socketpair) or from a daemon's play_spans tree, and a real daemon on a temp socket."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "py"))
sys.path.insert(0, os.path.join(REPO, "builtin_flows", "services", "hero_logic"))

import harness  # noqa: E402  (tests/py/harness.py)

FLOWS = os.path.join(REPO, "builtin_flows")
SERVICES = os.path.join(FLOWS, "services")
MODEL_SERVER = os.path.join(REPO, "tests", "fixtures", "model_server.py")
PYTHON = harness.PYTHON
BIN = os.environ.get("HERO_LOGIC_BIN") or os.path.join(REPO, "build", "hero_logic")


class ModelServer:
    """The fixture server on a free port: `with ModelServer() as ms: ms.url`."""

    def __init__(self, *args):
        self.args = list(args)
        self.proc = None
        self.url = None

    def __enter__(self):
        self.proc = subprocess.Popen([PYTHON, MODEL_SERVER, "--port", "0"] + self.args,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = self.proc.stdout.readline()
        m = re.search(r"listening on (http://\S+)", line)
        if not m:
            self.proc.kill()
            raise RuntimeError("model server did not start: %r" % line)
        self.url = m.group(1)
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()

    def _post(self, path, body):
        req = urllib.request.Request(self.url.rsplit("/v1", 1)[0] + path,
                                     data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read())

    def fail_next(self, count, status=500):
        """The next `count` chat requests answer `status`."""
        return self._post("/_fixture/fail", {"count": count, "status": status})

    def stats(self):
        with urllib.request.urlopen(self.url.rsplit("/v1", 1)[0] + "/_fixture/stats",
                                    timeout=5) as r:
            return json.loads(r.read())


def run_flow(name, inp, answer=None, timeout=60):
    """Runs builtin_flows/NAME.py with the boot module on a harness channel; a Run."""
    return harness.run_child(["-m", "hero_tracing.boot", os.path.join(FLOWS, name + ".py"),
                              "--input", json.dumps(inp)], answer=answer, timeout=timeout)


def shape(run):
    """The span tree of a harness Run as nested (name, kind, status, [children]) tuples,
    children in start order; parent links come from the span_start events."""
    starts = run.starts()
    ends = run.ends()
    order = [e["id"] for e in run.of_type("span_start")]
    seen = []
    for sid in order:
        if sid not in seen:
            seen.append(sid)
    kids = {}
    roots = []
    for sid in seen:
        p = starts[sid]["parent"]
        (kids.setdefault(p, []) if p is not None else roots).append(sid)

    def node(sid):
        st = ends.get(sid, {}).get("status", "running")
        return (starts[sid]["name"], starts[sid]["kind"], st,
                [node(c) for c in kids.get(sid, [])])
    assert len(roots) == 1, "expected one root, got %s" % roots
    return node(roots[0])


def tree_shape(tree):
    """The same shape from a daemon's span tree (play_spans / play_start `tree`)."""
    return (tree["name"], tree["kind"], tree["status"], [tree_shape(c) for c in tree["children"]])


def names(shape_node):
    return [c[0] for c in shape_node[3]]


def child(shape_node, name):
    for c in shape_node[3]:
        if c[0] == name:
            return c
    raise AssertionError("no child %r under %r: %s" % (name, shape_node[0], names(shape_node)))


class Daemon:
    """`hero_logic serve` on a temp data dir, socket and a free port, with builtin_flows."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="hero-flows-test-")
        os.chmod(self.tmp, 0o755)
        self.sock = os.path.join(self.tmp, "hero_logic.sock")
        self.proc = None

    def __enter__(self):
        self.log = open(os.path.join(self.tmp, "serve.log"), "w+")
        self.proc = subprocess.Popen(
            [BIN, "serve", "--data", os.path.join(self.tmp, "data"), "--socket", self.sock,
             "--port", "0", "--flows-dir", FLOWS],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with open(self.log.name) as f:
                if "hero_logic: serving on" in f.read():
                    break
            if self.proc.poll() is not None:
                raise RuntimeError("daemon exited: " + open(self.log.name).read()[-2000:])
            time.sleep(0.05)
        else:
            raise RuntimeError("daemon not ready: " + open(self.log.name).read()[-2000:])
        from client import HeroLogic
        self.client = HeroLogic(socket_path=self.sock, timeout=180)
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def play(self, flow, inp, timeout_ms=120000):
        """play_start: (run record, tree)."""
        r = self.client.call("play_start", flow=flow, input=inp, timeout_ms=timeout_ms)
        return r["run"], r["tree"]
