"""Shared helpers for the daemon tests: start a real `hero_logic serve` on a temp data dir,
socket and ephemeral port; JSON-RPC over http.client; an SSE reader; stop with SIGTERM."""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import textwrap
import threading
import time
import unittest

BIN = os.environ.get("HERO_LOGIC_BIN", "build/hero_logic")
REPO = os.environ.get("HERO_REPO", os.getcwd())
READY = re.compile(r"hero_logic: serving on unix:(\S+) and http://([\d.]+):(\d+)")


class RpcError(Exception):
    def __init__(self, code, message, data=None):
        super().__init__("%s: %s" % (code, message))
        self.code, self.message, self.data = code, message, data


class Daemon:
    def __init__(self, data, *extra, flows_dir=None, binary=None):
        self.data = data
        self.binary = binary or BIN
        os.makedirs(data, exist_ok=True)
        self.sock = os.path.join(data, "hero_logic.sock")
        self.flows_dir = flows_dir or os.path.join(data, "no_builtins")
        self.extra = list(extra)
        self.proc = None
        self.start()

    def start(self):
        env = dict(os.environ, NO_COLOR="1")
        args = [self.binary, "serve", "--data", self.data, "--socket", self.sock, "--port", "0",
                "--flows-dir", self.flows_dir, *self.extra]
        self.stderr = open(os.path.join(self.data, "daemon.stderr"), "ab")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.stderr, text=True, env=env,
                                     stdin=subprocess.DEVNULL)
        line = ""
        deadline = time.time() + 30
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            m = READY.search(line)
            if m:
                self.port = int(m.group(3))
                assert m.group(1) == self.sock, line
                return
        raise AssertionError("daemon did not get ready: %r (rc=%s): %s" % (line, self.proc.poll(), self.log()))

    def log(self):
        try:
            with open(os.path.join(self.data, "daemon.stderr"), "rb") as f:
                return f.read().decode(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self, timeout=30):
        """SIGTERM; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        finally:
            self.stderr.close()
            self.proc.stdout.close()
        return rc

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.stderr.close()
        self.proc.stdout.close()

    # --- HTTP ---
    def http(self, method, path, body=None, headers=None, timeout=60):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            h = {"Content-Type": "application/json"}
            h.update(headers or {})
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def post(self, payload, timeout=60):
        body = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
        status, data = self.http("POST", "/rpc", body, timeout=timeout)
        return status, (json.loads(data) if data else None)

    def call(self, method, _timeout=60, **params):
        _, resp = self.post({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=_timeout)
        if "error" in resp:
            e = resp["error"]
            raise RpcError(e["code"], e["message"], e.get("data"))
        return resp["result"]

    def error(self, method, **params):
        """Calls a method that must fail; returns the error object."""
        _, resp = self.post({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        assert "error" in resp, resp
        return resp["error"]


class SseReader:
    """Reads GET /api/runs/{id}/events on a raw socket (so a test can cut it mid-stream)."""

    def __init__(self, port, run_id, last_id=None, timeout=30):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        hdr = "GET /api/runs/%d/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n" % run_id
        if last_id is not None:
            hdr += "Last-Event-ID: %d\r\n" % last_id
        self.s.sendall((hdr + "\r\n").encode())
        self.buf = b""
        self.status = None
        self.chunked = False
        self._read_head()
        self.text = ""

    def _read_head(self):
        while b"\r\n\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise AssertionError("no response head")
            self.buf += d
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        self.status = int(lines[0].split()[1])
        self.chunked = any(l.lower().startswith("transfer-encoding: chunked") for l in lines)
        self.raw = b""
        self._feed(b"")

    def _feed(self, data):
        self.buf += data
        if not self.chunked:
            self.raw += self.buf
            self.buf = b""
            return
        while True:
            if b"\r\n" not in self.buf:
                return
            size_line, rest = self.buf.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                self.buf = b""
                self.eof = True
                return
            if len(rest) < size + 2:
                return
            self.raw += rest[:size]
            self.buf = rest[size + 2:]

    def events(self, until=None, deadline=30):
        """Yields (id, event, data) until the stream ends, `until(event)` is true, or deadline."""
        end = time.time() + deadline
        self.eof = False
        while time.time() < end:
            while b"\n\n" in self.raw:
                block, self.raw = self.raw.split(b"\n\n", 1)
                ev = {"id": None, "event": "message", "data": []}
                for line in block.decode().split("\n"):
                    if line.startswith(":"):
                        continue
                    k, _, v = line.partition(":")
                    v = v[1:] if v.startswith(" ") else v
                    if k == "id":
                        ev["id"] = int(v)
                    elif k == "event":
                        ev["event"] = v
                    elif k == "data":
                        ev["data"].append(v)
                if not ev["data"] and ev["event"] == "message":
                    continue
                item = (ev["id"], ev["event"], json.loads("\n".join(ev["data"])) if ev["data"] else None)
                yield item
                if until and until(item):
                    return
            if self.eof:
                return
            self.s.settimeout(max(0.05, end - time.time()))
            try:
                d = self.s.recv(65536)
            except socket.timeout:
                return
            if not d:
                return
            self._feed(d)

    def close(self):
        self.s.close()


class DaemonTestCase(unittest.TestCase):
    """One daemon per test class; subclasses set DAEMON_ARGS."""
    DAEMON_ARGS = ()

    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory(prefix="hero-daemon-")
        os.chmod(cls._tmp.name, 0o755)
        cls.d = Daemon(os.path.join(cls._tmp.name, "data"), *cls.DAEMON_ARGS)

    @classmethod
    def tearDownClass(cls):
        try:
            rc = cls.d.stop()
            assert rc == 0, "daemon exited %s: %s" % (rc, cls.d.log())
        finally:
            cls._tmp.cleanup()

    def walk(self, node):
        yield node
        for c in node.get("children", []):
            yield from self.walk(c)

    def wait_status(self, run_id, statuses, timeout=20):
        end = time.time() + timeout
        while time.time() < end:
            r = self.d.call("play_status", run_id=run_id)
            if r["status"] in statuses:
                return r
            time.sleep(0.05)
        self.fail("run %d never reached %s (now %s)" % (run_id, statuses, r["status"]))


def src(text):
    return textwrap.dedent(text).lstrip()
