"""Test helpers: run Python code or the boot module in a subprocess wired to a real
socketpair (HERO_FLOW_SPAN_FD), collect the NDJSON it writes, optionally answer `call`s like
the supervisor would. Stdlib only; used by the tests in this folder."""

import json
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PY_DIR = os.path.join(REPO, "py")
PYTHON = os.environ.get("HERO_TEST_PYTHON") or (
    "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable)
FIXTURE_FLOWS = os.path.join(HERE, "fixture_flows")
FIXTURES = os.path.join(REPO, "tests", "fixtures", "spans")


class Run:
    """The outcome of one child process."""

    def __init__(self, rc, raw, stdout, stderr, arrivals):
        self.rc = rc
        self.raw = raw                  # bytes read from the socket
        self.stdout = stdout
        self.stderr = stderr
        self.arrivals = arrivals        # [(monotonic seconds, event)] as lines arrived
        self.events = [json.loads(l) for l in raw.decode("utf-8").splitlines() if l.strip()]

    def of_type(self, t):
        return [e for e in self.events if e["type"] == t]

    def starts(self):
        """span id -> the last span_start for it."""
        out = {}
        for e in self.of_type("span_start"):
            out[e["id"]] = e
        return out

    def ends(self):
        return {e["id"]: e for e in self.of_type("span_end")}

    def span(self, name):
        """The span_start of the (first) span with this name."""
        for e in self.of_type("span_start"):
            if e["name"] == name:
                return self.starts()[e["id"]]
        raise AssertionError("no span named %r in %s" % (name, [
            e["name"] for e in self.of_type("span_start")]))

    def end_of(self, name):
        return self.ends()[self.span(name)["id"]]

    def tags(self, name):
        """Merged tags of a span (span_start tags + span_tag events)."""
        sid = self.span(name)["id"]
        tags = {}
        for e in self.events:
            if e["type"] == "span_start" and e["id"] == sid:
                tags.update(e.get("tags") or {})
            elif e["type"] == "span_tag" and e["id"] == sid:
                tags.update(e["tags"])
        return tags

    def logs(self, name, stream=None):
        sid = self.span(name)["id"]
        return "".join(e["text"] for e in self.of_type("span_log")
                       if e["id"] == sid and (stream is None or e["stream"] == stream))

    def root(self):
        roots = [e for e in self.of_type("span_start") if e["parent"] is None]
        assert roots, "no root span"
        return self.starts()[roots[0]["id"]]

    def result(self):
        r = self.of_type("result")
        assert len(r) == 1, r
        return r[0]["output"]


def _reader(sock, answer, chunks, arrivals, throttle=None):
    buf = b""
    while True:
        try:
            b = sock.recv(4096 if throttle else 65536)
        except OSError:
            break
        if not b:
            break
        if throttle:
            time.sleep(throttle)
        chunks.append(b)
        buf += b
        now = time.monotonic()
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            arrivals.append((now, ev))
            if ev.get("type") == "call" and answer is not None:
                reply = answer(ev["method"], ev.get("params"))
                msg = {"type": "call_result", "req": ev["req"]}
                if isinstance(reply, CallFailure):
                    msg["error"] = {"code": reply.code, "message": reply.message}
                else:
                    msg["result"] = reply
                sock.sendall((json.dumps(msg) + "\n").encode())


class CallFailure:
    """Return this from an `answer` callback to send an error call_result."""

    def __init__(self, code, message):
        self.code = code
        self.message = message


def _slow_drain(f, out, throttle):
    while True:
        b = f.read1(4096)
        if not b:
            return
        out.append(b)
        time.sleep(throttle)


def run_child(argv, env=None, answer=None, cwd=None, preexec_fn=None, timeout=60,
              channel=True, stdin=None, throttle=None):
    """Runs [python] + argv with the span channel on an inherited fd; returns a Run.
    throttle=S: the channel, stdout and stderr are read 4 KiB at a time with S seconds
    between reads (a busy supervisor), so the child's writes block on full buffers."""
    e = {"PATH": "/usr/bin:/bin", "PYTHONPATH": PY_DIR, "PYTHONDONTWRITEBYTECODE": "1",
         "LANG": "C.UTF-8", "MALLOC_ARENA_MAX": "2"}
    if env:
        e.update(env)
    chunks, arrivals = [], []
    if channel:
        parent, child = socket.socketpair()
        e["HERO_FLOW_SPAN_FD"] = str(child.fileno())
        fds = [child.fileno()]
    else:
        fds = []
    p = subprocess.Popen([PYTHON] + list(argv), env=e, cwd=cwd, pass_fds=fds,
                         stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         preexec_fn=preexec_fn)
    t = None
    if channel:
        child.close()
        t = threading.Thread(target=_reader,
                             args=(parent, answer, chunks, arrivals, throttle), daemon=True)
        t.start()
    if throttle:
        return _finish_throttled(p, t, parent if channel else None, chunks, arrivals,
                                 throttle, timeout)
    try:
        out, err = p.communicate(input=stdin.encode() if stdin is not None else None,
                                 timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise
    if t is not None:
        t.join(timeout)
        parent.close()
    return Run(p.returncode, b"".join(chunks), out.decode("utf-8", "replace"),
               err.decode("utf-8", "replace"), arrivals)


def _finish_throttled(p, t, parent, chunks, arrivals, throttle, timeout):
    out, err = [], []
    drains = [threading.Thread(target=_slow_drain, args=(f, acc, throttle), daemon=True)
              for f, acc in ((p.stdout, out), (p.stderr, err))]
    for d in drains:
        d.start()
    try:
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise
    finally:
        for d in drains:
            d.join(timeout)
        if t is not None:
            t.join(timeout)
            parent.close()
    return Run(p.returncode, b"".join(chunks), b"".join(out).decode("utf-8", "replace"),
               b"".join(err).decode("utf-8", "replace"), arrivals)


class FlowFiles:
    """A temp dir of flow files written from dedented source strings."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="hero_py_test_")

    def write(self, name, source):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(textwrap.dedent(source).lstrip("\n"))
        return path

    def cleanup(self):
        import shutil
        shutil.rmtree(self.dir, ignore_errors=True)


def run_script(files, source, name="flow.py", **kw):
    """Writes `source` and runs it as `python FILE` (no boot) with the channel."""
    path = files.write(name, source)
    return run_child([path], **kw)


def run_boot(files, source, *args, name="flow.py", **kw):
    """Writes `source` and runs `python -m hero_tracing.boot FILE args...`."""
    path = files.write(name, source)
    return run_child(["-m", "hero_tracing.boot", path] + list(args), **kw)
