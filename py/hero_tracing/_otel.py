"""W3C trace context for flows: the supervisor puts TRACEPARENT (the run's root span),
TRACESTATE and HERO_FLOW_SPAN_SEED in the flow's environment; this module names the OTel span
id of any span of the run the way the supervisor's exporter does
(supervisor/otel/trace_context.h, SpanIdFor), so a downstream service that continues
`flow.traceparent()` hangs below the span that really made the call. Stdlib only."""

import os

_M64 = 0xFFFFFFFFFFFFFFFF
_cache = [None, None]   # [TRACEPARENT value, (trace id hex, flags hex, key int) or None]


def _context():
    tp = os.environ.get("TRACEPARENT")
    if tp != _cache[0]:
        parsed = None
        parts = tp.split("-") if tp else ()
        if len(parts) >= 4 and len(parts[1]) == 32 and len(parts[3]) == 2:
            try:
                key = int(os.environ.get("HERO_FLOW_SPAN_SEED", "0"), 16)
            except ValueError:
                key = 0
            parsed = (parts[1], parts[3], key)
        _cache[0], _cache[1] = tp, parsed
    return _cache[1]


def span_id(key, wire_id):
    """FNV-1a 64 over the wire id's UTF-8 bytes from (offset basis XOR key), then the
    SplitMix64 finalizer; "" names the run's root span. Never 0."""
    h = 0xcbf29ce484222325 ^ key
    for b in wire_id.encode("utf-8"):
        h = ((h ^ b) * 0x100000001b3) & _M64
    h = ((h ^ (h >> 30)) * 0xbf58476d1ce4e5b9) & _M64
    h = ((h ^ (h >> 27)) * 0x94d049bb133111eb) & _M64
    h ^= h >> 31
    return h or 1


def traceparent(span):
    """The traceparent naming `span` (a hero_tracing Span, or None for the run's root), or
    None when the run has no trace context (standalone Python)."""
    ctx = _context()
    if ctx is None:
        return None
    trace_id, flags, key = ctx
    wire = "" if span is None or span.parent is None or span.id is None else span.id
    return "00-%s-%016x-%s" % (trace_id, span_id(key, wire), flags)


def inject(method, args, kwargs, tp):
    """Adds `traceparent` (and `tracestate`) to an HTTP call's headers, without changing what
    the caller passed: a `headers` mapping given by keyword is copied; a urllib.request.Request
    argument gets the header unless it has one; a callable whose signature has a `headers`
    parameter that was not given gets headers={...}. Returns the kwargs to call with."""
    extra = {"traceparent": tp}
    ts = os.environ.get("TRACESTATE")
    if ts:
        extra["tracestate"] = ts
    headers = kwargs.get("headers")
    if headers is not None:
        if hasattr(headers, "keys") and not any(k.lower() == "traceparent" for k in headers):
            merged = dict(headers)
            merged.update(extra)
            kwargs = dict(kwargs, headers=merged)
        return kwargs
    for a in args:
        if type(a).__name__ == "Request" and hasattr(a, "has_header") and \
                hasattr(a, "add_header"):
            if not a.has_header("Traceparent"):
                for k, v in extra.items():
                    a.add_header(k.capitalize(), v)
            return kwargs
    if _takes_headers(method) and len(args) <= _headers_position(method):
        kwargs = dict(kwargs, headers=extra)
    return kwargs


_sig_cache = {}


def _headers_position(method):
    """Index of the `headers` parameter among positional ones (args given before it are fine),
    or -1."""
    key = getattr(method, "__func__", method)
    pos = _sig_cache.get(key)
    if pos is None:
        pos = -1
        try:
            import inspect
            params = list(inspect.signature(method).parameters.values())
            for i, p in enumerate(params):
                if p.name == "headers":
                    pos = i if p.kind in (p.POSITIONAL_OR_KEYWORD, p.POSITIONAL_ONLY) else 1 << 30
                    break
        except (TypeError, ValueError):
            pass
        try:
            _sig_cache[key] = pos
        except TypeError:
            pass
    return pos


def _takes_headers(method):
    return _headers_position(method) >= 0
