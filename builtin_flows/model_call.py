"""model_call: one chat completion against an OpenAI-compatible endpoint (built-in flow).

Endpoint plumbing: flows run with a scrubbed environment (SPEC §5), so the endpoint reaches
the flow as the `endpoint` input (e.g. "http://127.0.0.1:8080/v1"; "/chat/completions" is
appended unless present). Without it the flow reads HERO_FLOW_AIBROKER_URL, then
HERO_AIBROKER_URL (a plain `python3 model_call.py` run, or a daemon that forwards it); with
none it fails at once with a clear reason. Trusted runs share the host network; an untrusted
run needs `network` on. The API key is never an input (inputs are stored with the run):
HERO_FLOW_AIBROKER_KEY or HERO_AIBROKER_KEY, sent as a Bearer token. Under the daemon both
HERO_AIBROKER_KEY and HERO_AIBROKER_URL come from the operator's secrets (@flow secrets=...,
docs/OPERATIONS.md) when configured.

Tags the flow span with model, prompt/completion/total tokens, latency_ms and cost_usd (from a
small per-million-token price table; 0 with cost_known=false for other models). Retries
429 and 5xx answers and connection errors with exponential backoff (honouring Retry-After,
capped), at most `retries` times; other 4xx answers fail at once. Each HTTP attempt is an
`rpc` span `aibroker.chat_completions`. Stdlib only (urllib).
"""

import json
import os
import time
import urllib.error
import urllib.request

from hero_tracing import flow, instrument

# USD per million tokens (prompt, completion). Unknown models cost 0 (tagged cost_known=false).
PRICES = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-3.5-turbo": (0.50, 1.50),
    "claude-3-5-sonnet": (3.00, 15.00),
    "claude-3-5-haiku": (0.80, 4.00),
}
DEFAULT_MODEL = "gpt-4o-mini"
MAX_BACKOFF_S = 10.0


class ModelHTTPError(Exception):
    """The endpoint answered an HTTP error status."""

    def __init__(self, status, message, retry_after=None):
        Exception.__init__(self, "HTTP %d: %s" % (status, message))
        self.status = status
        self.message = message
        self.retry_after = retry_after


class ChatClient:
    """A minimal OpenAI-compatible chat-completions client (urllib)."""

    def __init__(self, base_url, api_key=None, timeout_s=60.0):
        url = base_url.rstrip("/")
        self.url = url if url.endswith("/chat/completions") else url + "/chat/completions"
        self._key = api_key
        self._timeout = timeout_s

    def __repr__(self):
        return "ChatClient(%r)" % self.url

    def chat_completions(self, body):
        data = json.dumps(body).encode("utf-8")
        req = urllib.request.Request(self.url, data=data, method="POST")
        req.add_header("Content-Type", "application/json")
        if self._key:
            req.add_header("Authorization", "Bearer " + self._key)
        try:
            with urllib.request.urlopen(req, timeout=self._timeout) as r:
                return json.loads(r.read().decode("utf-8"))
        except urllib.error.HTTPError as e:
            raw = e.read().decode("utf-8", "replace")
            try:
                msg = json.loads(raw)["error"]["message"]
            except (ValueError, KeyError, TypeError):
                msg = raw[:500] or e.reason
            ra = e.headers.get("Retry-After") if e.headers else None
            try:
                ra = float(ra) if ra is not None else None
            except ValueError:
                ra = None
            raise ModelHTTPError(e.code, msg, ra) from None


def resolve_endpoint(endpoint):
    """The endpoint input, else HERO_FLOW_AIBROKER_URL, else HERO_AIBROKER_URL; else Failed."""
    url = endpoint or os.environ.get("HERO_FLOW_AIBROKER_URL") or \
        os.environ.get("HERO_AIBROKER_URL")
    if not url:
        raise flow.Failed(
            "HERO_AIBROKER_URL is not set: give the `endpoint` input (an OpenAI-compatible "
            "base URL such as http://127.0.0.1:8080/v1) or set HERO_AIBROKER_URL; flows run "
            "with a scrubbed environment, so the endpoint must arrive as an input, as "
            "HERO_FLOW_AIBROKER_URL, or as the operator's HERO_AIBROKER_URL secret "
            "(docs/OPERATIONS.md)")
    if not (url.startswith("http://") or url.startswith("https://")):
        raise flow.Failed("endpoint must be an http(s) URL, not %r" % url)
    return url


def build_messages(messages, prompt, system):
    if messages is not None and prompt is not None:
        raise flow.Failed("give `messages` or `prompt`, not both")
    if messages is None:
        if not prompt:
            raise flow.Failed("give `messages` (a list of {role, content}) or a `prompt`")
        messages = [{"role": "user", "content": prompt}]
        if system:
            messages.insert(0, {"role": "system", "content": system})
    if not messages:
        raise flow.Failed("`messages` is empty")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or \
                not isinstance(m.get("content"), str):
            raise flow.Failed("messages[%d] must be an object with string role and content" % i)
    return messages


def cost_usd(model, prompt_tokens, completion_tokens):
    """(cost, known) from PRICES; a dated model name ("gpt-4o-2024-08-06") uses its base."""
    price = PRICES.get(model)
    if price is None:
        for name in sorted(PRICES, key=len, reverse=True):
            if model.startswith(name + "-"):
                price = PRICES[name]
                break
    if price is None:
        return 0.0, False
    return round((prompt_tokens * price[0] + completion_tokens * price[1]) / 1e6, 8), True


@flow(name="model_call",
      description="One chat completion against an OpenAI-compatible endpoint (LLM call): "
                  "tags model, tokens, latency and cost; retries 429/5xx with backoff",
      inputs={"model": str, "messages": list, "prompt": str, "system": str,
              "temperature": float, "max_tokens": int, "endpoint": str, "retries": int,
              "backoff_s": float, "timeout_s": float},
      outputs={"content": str, "model": str, "usage": dict, "latency_ms": float,
               "cost_usd": float, "attempts": int},
      tags=("llm", "model", "chat", "builtin"),
      secrets=["HERO_AIBROKER_KEY", "HERO_AIBROKER_URL"])
def model_call(model=DEFAULT_MODEL, messages=None, prompt=None, system=None, temperature=None,
               max_tokens=None, endpoint=None, retries=3, backoff_s=0.5, timeout_s=60.0):
    """Sends one chat completion request (model + messages, or a single prompt) to the
    configured OpenAI-compatible endpoint and returns the answer text with token usage,
    latency and cost. Use it for any LLM / language model call: completion, chat, summarize,
    classify, generate text or code."""
    with flow.step("prepare") as s:
        msgs = build_messages(messages, prompt, system)
        url = resolve_endpoint(endpoint)
        if retries < 0 or retries > 10:
            raise flow.Failed("retries must be between 0 and 10, not %d" % retries)
        body = {"model": model, "messages": msgs}
        if temperature is not None:
            body["temperature"] = temperature
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        s.tag(model=model, messages=len(msgs), endpoint=url)
    key = os.environ.get("HERO_FLOW_AIBROKER_KEY") or os.environ.get("HERO_AIBROKER_KEY")
    client = instrument(ChatClient(url, key, timeout_s), service="aibroker")
    with flow.step("complete", model=model) as s:
        attempt = 0
        t0 = time.monotonic()
        while True:
            attempt += 1
            try:
                resp = client.chat_completions(body)
                break
            except ModelHTTPError as e:
                retryable = e.status == 429 or e.status >= 500
                if not retryable:
                    raise flow.Failed("model endpoint answered %d: %s" % (e.status, e.message))
                last = "model endpoint answered %d: %s" % (e.status, e.message)
                delay = e.retry_after
            except (urllib.error.URLError, OSError) as e:
                reason = getattr(e, "reason", e)
                last = "cannot reach the model endpoint %s: %s" % (url, reason)
                delay = None
            if attempt > retries:
                s.tag(attempts=attempt)
                raise flow.Failed("%s (gave up after %d attempts)" % (last, attempt))
            if delay is None:
                delay = backoff_s * (2 ** (attempt - 1))
            flow.log("attempt %d failed (%s); retrying in %.2f s" % (attempt, last, delay))
            time.sleep(min(max(delay, 0.0), MAX_BACKOFF_S))
        latency_ms = round((time.monotonic() - t0) * 1000.0, 1)
        s.tag(attempts=attempt, latency_ms=latency_ms)
    with flow.step("parse") as s:
        try:
            content = resp["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise flow.Failed("malformed completion: no choices[0].message.content in %s"
                              % json.dumps(resp)[:300])
        if content is None:
            content = ""
        usage = resp.get("usage") or {}
        pt = int(usage.get("prompt_tokens") or 0)
        ct = int(usage.get("completion_tokens") or 0)
        cost, known = cost_usd(resp.get("model") or model, pt, ct)
        stats = {"model": model, "prompt_tokens": pt, "completion_tokens": ct,
                 "total_tokens": pt + ct, "latency_ms": latency_ms, "cost_usd": cost,
                 "cost_known": known}
        s.tag(chars=len(content))
    flow.tag(**stats)
    return {"content": content, "model": resp.get("model") or model,
            "usage": {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct},
            "latency_ms": latency_ms, "cost_usd": cost, "attempts": attempt}


if __name__ == "__main__":
    import sys
    print(json.dumps(model_call(prompt=" ".join(sys.argv[1:]) or "Say hello.")))
