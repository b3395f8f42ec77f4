"""hero_logic's JSON-RPC 2.0 client (a service interface for service_agent): stdlib only, over
the daemon's Unix socket (default $HERO_LOGIC_DATA/hero_logic.sock) or TCP 127.0.0.1:8765.
Copy it into a generated script; every method returns the JSON-RPC `result` or raises
HeroLogicError(code, message)."""

import http.client
import json
import os
import socket


class HeroLogicError(Exception):
    def __init__(self, code, message):
        Exception.__init__(self, "%s (code %s)" % (message, code))
        self.code = code
        self.message = message


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        http.client.HTTPConnection.__init__(self, "localhost", timeout=timeout)
        self._path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


class HeroLogic:
    """HeroLogic(socket_path=None, host=None, port=8765, timeout=60)."""

    def __init__(self, socket_path=None, host=None, port=8765, timeout=60.0):
        if socket_path is None and host is None:
            data = os.environ.get("HERO_LOGIC_DATA") or os.path.expanduser(
                "~/.local/share/hero_logic")
            socket_path = os.path.join(data, "hero_logic.sock")
        self._socket_path, self._host, self._port, self._timeout = socket_path, host, port, timeout
        self._next = 1

    def call(self, method, **params):
        """One JSON-RPC call: POST /rpc {"jsonrpc":"2.0","id":N,"method":..,"params":{..}}."""
        body = json.dumps({"jsonrpc": "2.0", "id": self._next, "method": method,
                           "params": params}).encode()
        self._next += 1
        if self._host is not None:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        else:
            conn = _UnixHTTPConnection(self._socket_path, self._timeout)
        try:
            conn.request("POST", "/rpc", body, {"Content-Type": "application/json"})
            answer = json.loads(conn.getresponse().read().decode())
        finally:
            conn.close()
        if answer.get("error"):
            raise HeroLogicError(answer["error"].get("code"), answer["error"].get("message"))
        return answer.get("result")

    # flows (the library)
    def flow_list(self):
        return self.call("flow_list")

    def flow_get(self, name, version=None):
        return self.call("flow_get", name=name, **({"version": version} if version else {}))

    def flow_create(self, source, name=None):
        return self.call("flow_create", source=source, **({"name": name} if name else {}))

    def flow_update(self, name, source):
        return self.call("flow_update", name=name, source=source)

    def flow_versions(self, name):
        return self.call("flow_versions", name=name)

    def flow_library_search(self, query, limit=20):
        return self.call("flow_library_search", query=query, limit=limit)

    # runs
    def play_start(self, flow=None, source=None, input=None, timeout_ms=60000, profile=None):
        p = {"input": input or {}, "timeout_ms": timeout_ms}
        p.update({"flow": flow} if flow else {"source": source})
        if profile:
            p["profile"] = profile
        return self.call("play_start", **p)

    def play_run_async(self, flow=None, source=None, input=None, timeout_ms=60000):
        p = {"input": input or {}, "timeout_ms": timeout_ms}
        p.update({"flow": flow} if flow else {"source": source})
        return self.call("play_run_async", **p)

    def play_wait(self, run_id, timeout_ms=30000):
        return self.call("play_wait", run_id=run_id, timeout_ms=timeout_ms)

    def play_status(self, run_id):
        return self.call("play_status", run_id=run_id)

    def play_list(self, flow=None, status=None, limit=50):
        p = {"limit": limit}
        p.update({k: v for k, v in (("flow", flow), ("status", status)) if v})
        return self.call("play_list", **p)

    def play_spans(self, run_id):
        return self.call("play_spans", run_id=run_id)

    def play_cancel(self, run_id):
        return self.call("play_cancel", run_id=run_id)

    def script_run(self, source, input=None, timeout_ms=30000, network=False):
        return self.call("script_run", source=source, input=input or {}, timeout_ms=timeout_ms,
                         network=network)

    # saved inputs
    def example_create(self, flow, name, input):
        return self.call("example_create", flow=flow, name=name, input=input)

    def example_list(self, flow=None):
        return self.call("example_list", **({"flow": flow} if flow else {}))
