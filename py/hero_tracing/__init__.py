"""hero_tracing: the flow SDK. Writes span events (span_listener/SPAN_FORMAT.md) to the
supervisor channel named by HERO_FLOW_SPAN_FD / HERO_FLOW_SPAN_SOCK; without one every helper
is a cheap no-op. Stdlib only, CPython 3.9+; imports little at start-up."""

import os
import sys
import _thread
from _thread import get_ident as _get_ident
from contextvars import ContextVar
from itertools import count as _count
from time import time_ns as _time_ns

__all__ = ["flow", "instrument", "Failed", "CallError", "InputError", "SDK_VERSION"]

SDK_VERSION = "0.1.0"
PROTOCOL_VERSION = 1

_PKG_DIR = os.path.dirname(os.path.abspath(__file__))
_RPC_SUMMARY_MAX = 4096            # chars of repr kept for rpc args/result
_FLUSH_BYTES = 65536               # flush when a batch passes this
_FLUSH_US = 50000                  # the next event after 50 ms flushes
_BG_FLUSH_S = 0.01                 # background flusher delay after the first buffered line
_LOG_CHUNK = 131072                # chars per span_log line (keeps lines far below 1 MiB)
_TAGS_MAX = 65536                  # bytes of tag JSON per event before values are shortened
_OUTPUT_MAX = 1000000              # bytes of result JSON before the output is replaced
_SHUTDOWN_WAIT_S = 5.0             # at exit: longest wait for the flusher and the channel


class Failed(Exception):
    """Fail the current span (and the run, unless caught) with a clean reason, no traceback."""

    def __init__(self, reason="failed"):
        Exception.__init__(self, reason)
        self.reason = str(reason)

    def __str__(self):
        return self.reason


class CallError(Exception):
    """The supervisor answered a `call` with an error object."""

    def __init__(self, code, message):
        Exception.__init__(self, "%s (code %s)" % (message, code))
        self.code = code
        self.message = message


class InputError(ValueError):
    """An input object does not match a flow's declared inputs."""

    def __init__(self, field, message):
        ValueError.__init__(self, "input field %r: %s" % (field, message))
        self.field = field


# ---------------------------------------------------------------------------------------
# Channel state. All writes go through _emit(): one lock around the buffer.

_fd = -1                    # the channel fd, -1 when standalone
_sock = None                # keeps a HERO_FLOW_SPAN_SOCK socket object alive
_active = False             # channel connected and not broken
_buf = []                   # pending lines (str)
_size = 0                   # chars in _buf
_last_flush = 0             # ts (µs) of the last flush
_lock = _thread.allocate_lock()
_kick = _thread.allocate_lock()   # held while the background flusher has nothing to do
_flusher_alive = _thread.allocate_lock()   # held from the flusher's start until it returns
_closing = False            # _shutdown() ran: the channel is closed, captures write raw fds
_idstr = map(str, _count(1))   # span ids "1", "2", ... (a forked child prefixes "p<pid>.")
_root = None                # the run's root span while it is open
_cur = ContextVar("hero_tracing_span", default=None)
_fake_clock = os.environ.get("HERO_TRACING_FAKE_CLOCK") == "1"
_pid = 4242 if _fake_clock else os.getpid()

if _fake_clock:
    _fake_ns = _count(1700000000000000 * 1000, 10 * 1000)
    _time_ns = _fake_ns.__next__  # noqa: F811 -- deterministic ts for golden fixtures


def _flush_locked():
    """Writes the whole buffer with one write loop. Caller holds _lock."""
    global _size, _active
    if not _buf:
        return
    data = "".join(_buf).encode("utf-8", "replace")
    _buf.clear()
    _size = 0
    if not _active:
        return
    view = memoryview(data)
    try:
        while view:
            n = os.write(_fd, view)
            view = view[n:]
    except OSError:
        # The supervisor went away (EPIPE, EBADF): keep running the flow, drop the events.
        _active = False


def _bg_flusher(alive):
    global _last_flush
    from time import sleep
    try:
        while not _closing:
            _kick.acquire()
            if _closing:
                break
            sleep(_BG_FLUSH_S)
            if _capture_kicked[0] and not _closing:
                _flush_capture_lines()
            with _lock:
                if _buf and not _closing:
                    if not _fake_clock:   # the fake clock advances only with events
                        _last_flush = _time_ns() // 1000
                    _flush_locked()
    finally:
        alive.release()


def _start_flusher():
    _kick.acquire()
    _flusher_alive.acquire()   # released by the flusher as it returns (_shutdown joins it)
    try:
        _thread.start_new_thread(_bg_flusher, (_flusher_alive,))
    except RuntimeError:
        _flusher_alive.release()
        # no thread available (process limit): events still flush at the next event


def _flusher_running():
    return _flusher_alive.locked()


def _shutdown():
    """Closes the channel before the interpreter finalizes (registered with atexit at
    connect, so it runs after the flow's own atexit handlers, while every thread still runs).

    CPython ends a daemon thread the next time it takes the GIL once finalization has
    started, so a thread that was blocked in a write, or waiting for a lock, dies holding
    whatever it held. Nothing here may need such a lock after this returns: the flusher is
    stopped and joined, the last events are written, the captures switch to plain os.write
    on their fds, and the channel's locks are replaced, so a daemon thread that still prints
    (or emits a span event, now dropped) takes only locks no one else waits for."""
    global _closing, _active, _lock, _rlock
    if _closing:
        return
    _closing = True
    try:
        _kick.release()            # wake the flusher: it sees _closing and returns
    except RuntimeError:
        pass                       # already released
    if _flusher_alive.acquire(timeout=_SHUTDOWN_WAIT_S):   # join
        _flusher_alive.release()
    for c in (_out_capture, _err_capture):
        if c is not None:
            c._close()
    # Bounded: a writer blocked for good on a socket nobody reads must not hold up exit.
    if _lock.acquire(timeout=_SHUTDOWN_WAIT_S):
        try:
            _flush_locked()
        finally:
            _lock.release()
    _active = False
    _lock = _thread.allocate_lock()
    _rlock = _thread.allocate_lock()


def _emit(line, ts, force=False):
    global _size, _last_flush
    with _lock:
        if not _buf and _kick.locked():
            _kick.release()
        _buf.append(line)
        _size += len(line)
        if force or _size >= _FLUSH_BYTES or ts - _last_flush >= _FLUSH_US:
            _last_flush = ts
            _flush_locked()


def flush():
    """Writes every buffered event now (called by the boot module; at exit _shutdown)."""
    global _last_flush
    if _closing:
        return
    _out_capture and _out_capture.flush()
    _err_capture and _err_capture.flush()
    with _lock:
        if not _fake_clock:
            _last_flush = _time_ns() // 1000
        _flush_locked()


# ---------------------------------------------------------------------------------------
# JSON helpers. Fixed fields are formatted with %; json only for tags and free text.

_enc = None
_qcache = {}


def _init_json():
    global _enc
    import json
    _enc = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False,
                            default=_json_default)


def _json_default(o):
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    return repr(o)


def _sanitize(o, depth=0):
    """Turns anything into plain JSON data (NaN, non-str keys, cycles, odd types -> repr)."""
    if depth > 32:
        return repr(o)
    if o is None or isinstance(o, (bool, int, str)):
        return o
    if isinstance(o, float):
        return o if o == o and o not in (float("inf"), float("-inf")) else repr(o)
    if isinstance(o, dict):
        return {str(k): _sanitize(v, depth + 1) for k, v in o.items()}
    if isinstance(o, (list, tuple, set, frozenset)):
        return [_sanitize(v, depth + 1) for v in o]
    return repr(o)


def _jdump(o):
    """Compact JSON for any value; never raises (odd values become repr strings)."""
    if _enc is None:
        _init_json()
    try:
        return _enc.encode(o)
    except (ValueError, TypeError, RecursionError):
        return _enc.encode(_sanitize(o))


_ESC = {i: "\\u%04x" % i for i in range(32)}
_ESC.update({ord("\n"): "\\n", ord("\t"): "\\t", ord("\r"): "\\r", ord("\b"): "\\b",
             ord("\f"): "\\f", ord('"'): '\\"', ord("\\"): "\\\\"})


def _qs(s):
    """JSON string literal via str.translate (the fallback when _json is missing)."""
    return '"' + s.translate(_ESC) + '"'


try:
    # CPython's C string encoder (a built-in module, not the json package): the same output
    # as the translate above (non-ASCII kept; control characters as \n, \t, ... or \uXXXX),
    # and ~20x faster on long text, which captured output is (issue 15: a 200 MB printer).
    from _json import encode_basestring as _qs  # noqa: F811
except ImportError:  # pragma: no cover
    pass


def _q(s):
    """JSON string literal for a name or file name; cached, these repeat."""
    r = _qcache.get(s)
    if r is None:
        if type(s) is not str:
            s = str(s)
        if s.isascii() and s.isprintable() and '"' not in s and "\\" not in s:
            r = '"' + s + '"'
        else:
            r = _qs(s)
        if len(_qcache) < 4096:
            _qcache[s] = r
    return r


def _flat_json(d):
    """JSON for a flat dict of str keys and scalar values, else None."""
    parts = []
    for k, v in d.items():
        t = type(v)
        if t is str:
            j = _qs(v)
        elif t is bool:
            j = "true" if v else "false"
        elif t is int:
            j = str(v)
        elif v is None:
            j = "null"
        elif t is float and v - v == 0.0:
            j = repr(v)
        else:
            return None
        if type(k) is not str:
            return None
        parts.append(_q(k) + ":" + j)
    return "{" + ",".join(parts) + "}"


def _tags_json(tags):
    j = _flat_json(tags)
    if j is None:
        j = _jdump(tags)
    if len(j) > _TAGS_MAX:
        short = {}
        for k, v in tags.items():
            vj = _jdump(v)
            short[k] = v if len(vj) <= 1024 else vj[:1000] + "...[truncated]"
        j = _jdump(short)
    return j


# ---------------------------------------------------------------------------------------
# Resource sampling (cpu_us, rss_kb deltas).

if _fake_clock:
    class _ZeroUsage:
        ru_utime = ru_stime = 0.0
        ru_maxrss = 0

    def _usage(_who=0, _z=_ZeroUsage()):
        return _z
else:
    try:
        from resource import getrusage as _usage
    except ImportError:  # pragma: no cover - not POSIX
        def _usage(_who=0):
            return _ZeroUsage()


# ---------------------------------------------------------------------------------------
# Spans.

_getframe = sys._getframe
_STATUS_CANCELLED = ("KeyboardInterrupt", "CancelledError", "GeneratorExit")


def _type_name(t):
    mod = getattr(t, "__module__", "builtins")
    qn = getattr(t, "__qualname__", t.__name__)
    return qn if mod in ("builtins", "__main__", None) else mod + "." + qn


def format_traceback(exc):
    """The exception's traceback without hero_tracing's own frames."""
    import traceback
    te = traceback.TracebackException(type(exc), exc, exc.__traceback__, limit=None)
    seen = set()

    def strip(t):
        if t is None or id(t) in seen:
            return
        seen.add(id(t))
        t.stack = traceback.StackSummary.from_list(
            [f for f in t.stack if not f.filename.startswith(_PKG_DIR)])
        strip(t.__cause__)
        strip(t.__context__)
        for sub in getattr(t, "exceptions", None) or ():
            strip(sub)

    strip(te)
    return "".join(te.format())


class _NullSpan:
    """The span outside any run or span: every method is a no-op."""
    __slots__ = ()
    id = None
    name = None
    parent = None

    def tag(self, **kv):
        pass

    def log(self, text):
        pass

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        return None

    async def __aenter__(self):
        return self

    async def __aexit__(self, et, ev, tb):
        return None

    def __call__(self, fn):
        return fn

    def __bool__(self):
        return False

    def __repr__(self):
        return "<hero_tracing null span>"


_NULL = _NullSpan()


# Resource sampling: one getrusage() costs ~0.6 us here, as much as the rest of a step, so
# a sample taken in the last _RU_REUSE_US is reused as a span's start sample, and a span
# shorter than _RU_MIN_US omits cpu_us/rss_kb (optional fields) instead of sampling again.
_RU_REUSE_US = -1 if _fake_clock else 20
_RU_MIN_US = -1 if _fake_clock else 20
_ru = (-1 << 62, 0.0, 0)     # (ts of the sample, utime + stime in s, ru_maxrss in KiB)


def _sample(ts):
    global _ru
    r = _usage(0)
    _ru = (ts, r.ru_utime + r.ru_stime, r.ru_maxrss)
    return _ru


def _usage_fields(span, ts):
    """',"cpu_us":N,"rss_kb":N' for a span ending at ts, or '' for a very short span."""
    if ts - span._t0 < _RU_MIN_US:
        return ""
    r = _sample(ts)
    cpu = int((r[1] - span._cpu0) * 1e6)
    return ',"cpu_us":%d,"rss_kb":%d' % (cpu if cpu > 0 else 0, r[2] - span._rss0)


class Span:
    """One span; a context manager (sync and async) and a decorator. Created by flow.step().
    `id` is None until started; the root is the span whose `parent` is None."""
    __slots__ = ("name", "kind", "id", "parent", "_tags", "_token", "_t0", "_cpu0", "_rss0",
                 "_file", "_line", "_extra", "_src")

    def __init__(self, name, tags=None, kind="step", extra=""):
        self.name = name
        self.kind = kind
        self._tags = tags
        self._extra = extra
        self.id = None
        self._file = None

    # -- lifecycle -----------------------------------------------------------------------
    def _start(self, depth, parent=False):
        """Starts the span (any kind, any parent; the slow path of __enter__)."""
        global _root
        if parent is False:
            parent = _cur.get() or _root
        self.parent = parent
        if self.name is None:
            self.name = "step"
        self.id = next(_idstr)
        if self._file is None:
            f = _getframe(depth)
            self._file = f.f_code.co_filename
            self._line = f.f_lineno
        if _capture_pending[0]:
            _flush_capture_lines()   # held lines go out before the span they preceded
        ts = _time_ns() // 1000
        self._t0 = ts
        r = _ru if ts - _ru[0] <= _RU_REUSE_US else _sample(ts)
        self._cpu0 = r[1]
        self._rss0 = r[2]
        if parent is None and self.kind == "flow_root" and _root is None:
            _root = self
        _emit(self._start_line(ts), ts, parent is None)
        self._token = _cur.set(self)
        return self

    def _start_line(self, ts):
        p = self.parent
        tags = self._tags
        return '{"type":"span_start","id":"%s","parent":%s,"name":%s,"kind":"%s","ts":%d,' \
               '"file":%s,"line":%d%s%s}\n' % (
                   self.id, "null" if p is None else '"' + p.id + '"', _q(self.name),
                   self.kind, self._t0, _q(self._file if self._file is not None else self._src),
                   self._line,
                   ',"tags":' + _tags_json(tags) if tags else "", self._extra)

    def _end(self, et, ev, status=None):
        """Ends the span (any outcome; the slow path of __exit__). `status` overrides a failed
        end's status (the boot module ends the root `killed` after a `limit` event)."""
        global _root
        try:
            _cur.reset(self._token)
        except ValueError:  # exited in another context (generator resumed elsewhere)
            _cur.set(self.parent)
        if _capture_pending[0]:
            _flush_captures(self.id)
        ts = _time_ns() // 1000
        usage = _usage_fields(self, ts)
        if et is None:
            line = '{"type":"span_end","id":"%s","ts":%d,"status":"ok"%s}\n' % (
                self.id, ts, usage)
        else:
            line = self._end_failed_line(et, ev, ts, usage, status)
        if self is _root:
            _root = None
        _emit(line, ts, self.parent is None)

    # The two methods below are the hot path (SPEC §10: start + end <= 3 us): _start() and
    # _end() inlined, lines formatted with %, one lock around the buffer.
    def __enter__(self):
        global _size, _last_flush
        if not _active:
            return self
        parent = _cur.get() or _root
        if parent is None or self._file is not None or _capture_pending[0]:
            return self._start(2, parent)
        self.parent = parent
        self.id = sid = next(_idstr)
        name = self.name
        if name is None:
            self.name = name = "step"
        f = _getframe(1)
        fname = f.f_code.co_filename
        self._src = fname          # for a later _restart (link_run); _file stays None: it
        self._line = f.f_lineno    # routes a re-entry of this object through _start
        ts = _time_ns() // 1000
        self._t0 = ts
        r = _ru if ts - _ru[0] <= _RU_REUSE_US else _sample(ts)
        self._cpu0 = r[1]
        self._rss0 = r[2]
        tags = self._tags
        line = '{"type":"span_start","id":"%s","parent":"%s","name":%s,"kind":"%s","ts":%d,' \
               '"file":%s,"line":%d%s%s}\n' % (
                   sid, parent.id, _qcache.get(name) or _q(name), self.kind, ts,
                   _qcache.get(fname) or _q(fname), f.f_lineno,
                   ',"tags":' + _tags_json(tags) if tags else "", self._extra)
        with _lock:
            if not _buf and _kick.locked():
                _kick.release()
            _buf.append(line)
            _size += len(line)
            if _size >= _FLUSH_BYTES or ts - _last_flush >= _FLUSH_US:
                _last_flush = ts
                _flush_locked()
        self._token = _cur.set(self)
        return self

    def __exit__(self, et, ev, tb):
        global _size, _last_flush
        sid = self.id
        if sid is None:
            return None
        if et is not None or self.parent is None or _capture_pending[0]:
            self._end(et, ev)
            return None
        try:
            _cur.reset(self._token)
        except ValueError:  # exited in another context (generator resumed elsewhere)
            _cur.set(self.parent)
        ts = _time_ns() // 1000
        if ts - self._t0 < _RU_MIN_US:
            line = '{"type":"span_end","id":"%s","ts":%d,"status":"ok"}\n' % (sid, ts)
        else:
            line = '{"type":"span_end","id":"%s","ts":%d,"status":"ok"%s}\n' % (
                sid, ts, _usage_fields(self, ts))
        with _lock:
            _buf.append(line)
            _size += len(line)
            if _size >= _FLUSH_BYTES or ts - _last_flush >= _FLUSH_US:
                _last_flush = ts
                _flush_locked()
        return None

    def _end_failed_line(self, et, ev, ts, usage, status_override=None):
        status, error, etype, tb = error_fields(et, ev)
        if status_override is not None and status == "failed":
            status = status_override
        parts = ['{"type":"span_end","id":"%s","ts":%d,"status":"%s"' % (self.id, ts, status)]
        if error is not None:
            parts.append(',"error":' + _jdump(error))
        if etype is not None:
            parts.append(',"error_type":' + _q(etype))
        if tb:
            parts.append(',"traceback":' + _jdump(tb))
        parts.append(usage + "}\n")
        if ev is not None and getattr(ev, "_hero_step", None) is None:
            try:
                ev._hero_step = self.name
            except Exception:
                pass
        return "".join(parts)

    async def __aenter__(self):
        if not _active:
            return self
        return self._start(2)

    async def __aexit__(self, et, ev, tb):
        if self.id is not None:
            self._end(et, ev)
        return None

    # -- decorator -----------------------------------------------------------------------
    def __call__(self, fn):
        return _step_decorator(fn, self.name, self._tags, self.kind)

    # -- annotations ---------------------------------------------------------------------
    def tag(self, **kv):
        """Merges tags into the span (a span_tag event once started)."""
        if not kv:
            return
        if self.id is None:
            if self._tags:
                self._tags.update(kv)
            else:
                self._tags = dict(kv)
            return
        if not _active:
            return
        ts = _time_ns() // 1000
        _emit('{"type":"span_tag","id":"%s","tags":%s}\n' % (self.id, _tags_json(kv)), ts)

    def log(self, text, stream="log"):
        """Adds a log line to the span."""
        if self.id is None or not _active:
            return
        if _capture_pending[0]:
            _flush_capture_lines()   # printed lines before this log line keep their order
        _log(self.id, stream, text if type(text) is str else str(text))

    def link_run(self, run_id):
        """Links this span to the child run `run_id` (the UI opens the child from it): the
        span's start is re-sent with `child_run_id`, and it is tagged child_run_id."""
        run_id = int(run_id)
        if self.id is None or not _active:
            return
        self._extra = ',"child_run_id":%d' % run_id
        self._restart()
        self.tag(child_run_id=run_id)

    def _restart(self):
        """Repeats span_start (same id): updates name, kind, file, line, extra fields."""
        ts = _time_ns() // 1000
        _emit(self._start_line(self._t0), ts, True)

    def __repr__(self):
        return "<hero_tracing span %s %r>" % (self.id, self.name)


def error_fields(et, ev):
    """(status, error, error_type, traceback) for an exception ending a span."""
    name = et.__name__
    if et is Failed or (ev is not None and isinstance(ev, Failed)):
        return "failed", str(ev) if ev is not None else "failed", "Failed", None
    if name in _STATUS_CANCELLED:
        return "cancelled", name if not str(ev) else str(ev), name, None
    if name == "SystemExit":
        code = getattr(ev, "code", None)
        if code is None or code == 0:
            return "ok", None, None, None
        if isinstance(code, int):
            return "failed", "exit code %d" % code, "SystemExit", None
        return "failed", "exit code 1: %s" % (code,), "SystemExit", None
    try:
        tb = format_traceback(ev) if ev is not None else None
    except Exception:  # MemoryError while formatting, or a broken __str__
        tb = None
    try:
        msg = str(ev)
    except Exception:
        msg = "<unprintable %s>" % name
    return "failed", msg, _type_name(et), tb


def _log(sid, stream, text, ts=None):
    if ts is None:
        ts = _time_ns() // 1000
    while True:
        chunk = text[:_LOG_CHUNK] if len(text) > _LOG_CHUNK else text
        _emit('{"type":"span_log","id":"%s","ts":%d,"stream":"%s","text":%s}\n'
              % (sid, ts, stream, _qs(chunk)), ts)
        text = text[_LOG_CHUNK:]
        if not text:
            break


def _copy_meta(wrapper, fn):
    for a in ("__module__", "__name__", "__qualname__", "__doc__"):
        try:
            setattr(wrapper, a, getattr(fn, a))
        except AttributeError:
            pass
    wrapper.__dict__.update(getattr(fn, "__dict__", {}))
    wrapper.__wrapped__ = fn
    return wrapper


def _is_async(fn):
    """True for an `async def` function or bound method (CO_COROUTINE), without inspect."""
    code = getattr(getattr(fn, "__func__", fn), "__code__", None)
    return code is not None and bool(code.co_flags & 0x80)


def _step_decorator(fn, name, tags, kind):
    if not _active:
        return fn
    name = name or getattr(fn, "__name__", "step")
    if _is_async(fn):
        async def astep(*a, **kw):
            s = Span(name, dict(tags) if tags else None, kind)
            s._start(2)
            try:
                r = await fn(*a, **kw)
            except BaseException as e:
                s._end(type(e), e)
                raise
            s._end(None, None)
            return r
        return _copy_meta(astep, fn)

    def step(*a, **kw):
        s = Span(name, dict(tags) if tags else None, kind)
        s._start(2)
        try:
            r = fn(*a, **kw)
        except BaseException as e:
            s._end(type(e), e)
            raise
        s._end(None, None)
        return r
    return _copy_meta(step, fn)


# ---------------------------------------------------------------------------------------
# stdout / stderr capture: writes inside a span become span_log events of that span.

_out_capture = None
_err_capture = None
_capture_pending = [False]   # True while some capture holds text
# Whole lines are held too and written as one span_log of up to _CAPTURE_BATCH characters
# (SPAN_FORMAT: a span_log is one or more whole lines), so a loop of print() costs one event
# per batch, not one per line (issue 15: a 200 MB printer ran 7x slower than plain python3).
# The background flusher writes held whole lines within _BG_FLUSH_S of the first; a span's
# end, flush() and shutdown write everything held.
_CAPTURE_BATCH = 8192
_capture_kicked = [False]    # the flusher was woken for held lines and has not taken them yet


def _kick_for_captures():
    if _fake_clock:
        return   # golden fixtures: held lines go out only at deterministic points
    _capture_kicked[0] = True
    with _lock:
        if _kick.locked() and not _closing:
            _kick.release()


def _flush_capture_lines():
    """The flusher's tick: writes the whole lines every capture holds; partial lines stay."""
    _capture_kicked[0] = False
    for c in (_out_capture, _err_capture):
        if c is not None and c._pend:
            c._emit_lines()
    _capture_pending[0] = bool((_out_capture and _out_capture._pend) or
                               (_err_capture and _err_capture._pend))


def _flush_captures(sid=None):
    """Emits held partial lines (of span `sid`, or all)."""
    for c in (_out_capture, _err_capture):
        if c is not None and c._pend:
            c._emit_pending(sid)
    _capture_pending[0] = bool((_out_capture and _out_capture._pend) or
                               (_err_capture and _err_capture._pend))


class _Capture:
    """Stands in for sys.stdout/sys.stderr; lines go to the current span, else to the real
    stream. A partial line is held per thread until a newline, flush(), or its span's end,
    so print() calls from several threads do not cut each other's lines."""

    def __init__(self, orig, stream):
        self._orig = orig
        self._stream = stream
        self._pend = {}          # thread ident -> [span id, [text pieces], length, first ts]
        self._other = None       # the capture of the other stream (set at install)
        self._wlock = _thread.allocate_lock()
        self._raw = None         # after _close(): the fd that writes go to, unbuffered
        try:
            self._rawfd = orig.fileno()
        except (AttributeError, OSError, ValueError):
            self._rawfd = None

    def write(self, s):
        if type(s) is not str:
            if not isinstance(s, str):
                raise TypeError("write() argument must be str, not %s" % type(s).__name__)
        span = _cur.get() or _root
        if span is None or not _active or span.id is None:
            return self._write_orig(s)
        n = len(s)
        sid = span.id
        tid = _get_ident()
        other = self._other
        if other is not None and tid in other._pend:
            # What this thread wrote to the other stream goes out first (stdout and stderr keep
            # their order per thread). Not under our lock: the locks are never nested.
            other._emit_thread(tid)
        with self._wlock:
            held = self._pend.get(tid)
            if held is not None and held[0] != sid:
                del self._pend[tid]
                _log(held[0], self._stream, "".join(held[1]), held[3])
                held = None
            if held is None:
                held = self._pend[tid] = [sid, [s], n, _time_ns() // 1000]
                _capture_pending[0] = True
            else:
                held[1].append(s)
                held[2] += n
            if held[2] >= _CAPTURE_BATCH:
                text = "".join(held[1])
                i = text.rfind("\n")
                ts = held[3]
                if i < 0 or i == len(text) - 1:
                    del self._pend[tid]
                    _log(sid, self._stream, text, ts)
                    return n
                held[1] = [text[i + 1:]]
                held[2] = len(text) - i - 1
                held[3] = _time_ns() // 1000
                _log(sid, self._stream, text[:i + 1], ts)
                return n
        if not _capture_kicked[0]:
            _kick_for_captures()
        return n

    def _write_orig(self, s):
        # Under _wlock, so _close() knows no thread is inside the original stream once it
        # holds the lock: a daemon thread frozen inside BufferedWriter.write at finalization
        # would make the interpreter abort ("could not acquire lock ... at shutdown").
        with self._wlock:
            if self._raw is None:
                return self._orig.write(s)
        return self._write_raw(s)

    def _write_raw(self, s):
        """After _close(): straight to the fd, no lock and no buffer (a daemon thread may
        die at any point here without leaving anything held)."""
        fd = self._raw
        if fd is None or fd < 0:
            return len(s)
        data = s.encode("utf-8", "replace")
        try:
            while data:
                data = data[os.write(fd, data):]
        except OSError:
            pass
        return len(s)

    def _close(self):
        """Called by _shutdown(): emits held partial lines, switches every later write to
        _write_raw and flushes the original stream one last time."""
        self._emit_pending(None)
        with self._wlock:
            self._raw = self._rawfd if self._rawfd is not None else -1
        try:
            self._orig.flush()
        except (OSError, ValueError, AttributeError):
            pass
        self._wlock = _thread.allocate_lock()

    def _emit_pending(self, sid=None):
        with self._wlock:
            for tid, held in list(self._pend.items()):
                if sid is None or held[0] == sid:
                    del self._pend[tid]
                    _log(held[0], self._stream, "".join(held[1]), held[3])

    def _emit_thread(self, tid):
        """Writes what thread `tid` holds (called by the other stream's capture)."""
        with self._wlock:
            held = self._pend.pop(tid, None)
            if held is not None:
                _log(held[0], self._stream, "".join(held[1]), held[3])

    def _emit_lines(self):
        """Writes the whole lines held (the flusher's tick); a partial line stays held."""
        with self._wlock:
            for tid, held in list(self._pend.items()):
                text = "".join(held[1])
                i = text.rfind("\n")
                if i < 0:
                    held[1] = [text]
                    continue
                ts = held[3]
                if i == len(text) - 1:
                    del self._pend[tid]
                else:
                    held[1] = [text[i + 1:]]
                    held[2] = len(text) - i - 1
                    held[3] = _time_ns() // 1000
                _log(held[0], self._stream, text[:i + 1], ts)

    def writelines(self, lines):
        for s in lines:
            self.write(s)

    def flush(self):
        if self._raw is not None:
            return   # closed: writes are unbuffered now; the original stream was flushed
        if self._pend:
            self._emit_pending(None)
        # An explicit flush (print(..., flush=True)) means "deliver now": a process killed
        # right after must not lose the line in the event batch.
        with _lock:
            _flush_locked()
        try:
            self._orig.flush()
        except (OSError, ValueError, AttributeError):
            pass

    def isatty(self):
        return False

    def writable(self):
        return True

    def readable(self):
        return False

    def __getattr__(self, name):
        return getattr(self._orig, name)


def _install_captures():
    global _out_capture, _err_capture
    if sys.stdout is not None:
        _out_capture = _Capture(sys.stdout, "stdout")
        sys.stdout = _out_capture
    if sys.stderr is not None:
        _err_capture = _Capture(sys.stderr, "stderr")
        sys.stderr = _err_capture
    if _out_capture is not None and _err_capture is not None:
        _out_capture._other = _err_capture
        _err_capture._other = _out_capture


def real_stderr():
    """The stream sys.stderr stood for before capture (for the boot module's messages)."""
    return _err_capture._orig if _err_capture is not None else sys.stderr


# ---------------------------------------------------------------------------------------
# The flow registry and the public `flow` object.


class FlowDef:
    """A registered @flow: the function and its declared metadata."""
    __slots__ = ("name", "fn", "description", "inputs", "outputs", "tags", "doc", "file",
                 "line", "wrapper")

    def __init__(self, fn, name, description, inputs, outputs, tags):
        self.fn = fn
        self.name = name or fn.__name__
        self.description = description or ""
        self.inputs = dict(inputs) if inputs else None
        self.outputs = dict(outputs) if outputs else None
        self.tags = tuple(tags or ())
        self.doc = fn.__doc__
        code = getattr(fn, "__code__", None)
        self.file = code.co_filename if code else None
        self.line = code.co_firstlineno if code else 0
        self.wrapper = None

    def __repr__(self):
        return "<FlowDef %s at %s:%s>" % (self.name, self.file, self.line)


registry = {}        # name -> FlowDef (the latest registered under that name)
definitions = []     # every FlowDef in registration order


def _make_flow_wrapper(fdef):
    fn = fdef.fn
    name = fdef.name
    if not _active:
        # Standalone: the function itself (no wrapper frame in tracebacks, no overhead).
        try:
            fn.__hero_flow__ = fdef
        except AttributeError:
            pass
        fdef.wrapper = fn
        return fn

    if _is_async(fn):
        async def aflow(*a, **kw):
            if not _active:
                return await fn(*a, **kw)
            parent = _cur.get() or _root
            s = Span(name, None, "step" if parent is not None else "flow_root")
            s._start(2, parent)
            try:
                r = await fn(*a, **kw)
            except BaseException as e:
                s._end(type(e), e)
                raise
            s._end(None, None)
            return r
        wrapper = aflow
    else:
        def wrapper(*a, **kw):
            if not _active:
                return fn(*a, **kw)
            parent = _cur.get() or _root
            s = Span(name, None, "step" if parent is not None else "flow_root")
            s._start(2, parent)
            try:
                r = fn(*a, **kw)
            except BaseException as e:
                s._end(type(e), e)
                raise
            s._end(None, None)
            return r
    _copy_meta(wrapper, fn)
    wrapper.__hero_flow__ = fdef
    fdef.wrapper = wrapper
    return wrapper


def _register(fn, name, description, inputs, outputs, tags):
    fdef = FlowDef(fn, name, description, inputs, outputs, tags)
    registry[fdef.name] = fdef
    definitions.append(fdef)
    return _make_flow_wrapper(fdef)


def _flow_call(fn=None, name=None, description="", inputs=None, outputs=None, tags=()):
    if fn is not None and not isinstance(fn, str) and callable(fn):
        return _register(fn, name, description, inputs, outputs, tags)
    if isinstance(fn, str):
        name = fn

    def deco(f):
        return _register(f, name, description, inputs, outputs, tags)
    return deco


def _step(name=None, /, **tags):
    if name is not None and not isinstance(name, str) and callable(name):
        return _step_decorator(name, None, tags, "step")   # bare @flow.step
    if not _active:
        return _NULL
    return Span(name, tags or None)


class _Flow:
    """`flow`: the @flow decorator, plus step/span/tag/log/invoke/thread/map helpers."""
    Failed = Failed
    CallError = CallError

    def __call__(self, fn=None, name=None, description="", inputs=None, outputs=None,
                 tags=(), secrets=()):
        # secrets=["NAME", ...]: read from the source by inspect_flow (never at run time); the
        # daemon sets the granted ones in os.environ before the flow starts.
        return _flow_call(fn, name, description, inputs, outputs, tags)

    step = staticmethod(_step)
    span = staticmethod(_step)

    @property
    def current_span(self):
        return _cur.get() or _root or _NULL

    @property
    def active(self):
        """True when connected to a supervisor."""
        return _active

    @staticmethod
    def traceparent():
        """W3C traceparent of the current span (for calls to services that continue the
        trace), or None when the run has no trace context (e.g. standalone Python)."""
        from hero_tracing import _otel
        return _otel.traceparent(_cur.get() or _root)

    @staticmethod
    def tag(**kv):
        s = _cur.get() or _root
        if s is not None:
            s.tag(**kv)

    @staticmethod
    def log(text):
        s = _cur.get() or _root
        if s is not None:
            s.log(text)

    @staticmethod
    def thread(target, *args, **kwargs):
        """A threading.Thread (not started) that runs target in a copy of the current
        context, so its spans attach to the span current here."""
        import threading
        import contextvars
        ctx = contextvars.copy_context()
        return threading.Thread(target=ctx.run, args=(target,) + args, kwargs=kwargs)

    @staticmethod
    def map(fn, iterable, max_workers=None):
        """Like list(executor.map(fn, iterable)) with each call in a copy of this context."""
        import contextvars
        from concurrent.futures import ThreadPoolExecutor
        items = list(iterable)
        if not items:
            return []
        with ThreadPoolExecutor(max_workers=max_workers) as ex:
            futs = [ex.submit(contextvars.copy_context().run, fn, x) for x in items]
            return [f.result() for f in futs]

    @staticmethod
    def run_child(span_name, params, **tags):
        """Starts a child run through the supervisor (`play_run_async` with `params`: a `flow`
        and `input`, or a `source`) under a `subflow` span named `span_name` and linked to it,
        and waits for its end. Returns the child's run record; a child that did not end ok
        fails the span with flow.Failed (its record in the exception's `record`). Needs a
        supervisor (flow.active)."""
        return _run_child(span_name, params, tags, 3)

    @staticmethod
    def invoke(name, /, *, spawn=False, **inputs):
        return _invoke(name, spawn, inputs)

    @staticmethod
    def call(method, params=None):
        """Calls one supervisor API method over the span channel (see SPAN_FORMAT.md)."""
        return call(method, params)

    flush = staticmethod(flush)

    def __repr__(self):
        return "<hero_tracing.flow active=%s>" % _active


flow = _Flow()


# ---------------------------------------------------------------------------------------
# Input validation (shared by the boot module and flow.invoke).

_SIMPLE_TYPES = {"str": str, "int": int, "float": float, "bool": bool, "list": list,
                 "dict": dict, "object": object, "any": object, "Any": object}


def type_label(spec):
    """A short name for a declared input type ("str", "list[str]", ...)."""
    if isinstance(spec, str):
        return spec
    if spec is None or spec is type(None):
        return "None"
    if isinstance(spec, type) and not getattr(spec, "__args__", None):
        return spec.__name__
    r = repr(spec)
    return r[7:] if r.startswith("typing.") else r


def _type_ok(spec, v):
    if isinstance(spec, str):
        spec = _SIMPLE_TYPES.get(spec, object)
    if spec is object:
        return True
    if spec is None or spec is type(None):
        return v is None
    if spec is int:
        return type(v) is int or (isinstance(v, int) and not isinstance(v, bool))
    if spec is float:
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if spec is bool or spec is str or spec is list or spec is dict:
        return isinstance(v, spec)
    args = getattr(spec, "__args__", None)
    origin = getattr(spec, "__origin__", None)
    if repr(origin) == "typing.Union" or type(spec).__name__ == "UnionType":
        return any(_type_ok(a, v) for a in (args or ()))
    if repr(spec) == "typing.Any":
        return True
    if isinstance(origin, type):
        if origin is tuple:
            return isinstance(v, list)
        return isinstance(v, origin)
    if isinstance(spec, type):
        if spec is tuple:
            return isinstance(v, list)
        return isinstance(v, spec)
    return True


def _json_type_name(v):
    if v is None:
        return "null"
    return type(v).__name__


def signature_info(fn):
    """(params, required, accepts_kwargs) of a plain function, without `inspect`."""
    code = fn.__code__
    npos = code.co_argcount
    nkw = code.co_kwonlyargcount
    names = code.co_varnames[:npos + nkw]
    posonly = getattr(code, "co_posonlyargcount", 0)
    defaults = fn.__defaults__ or ()
    kwdefaults = fn.__kwdefaults__ or {}
    first_default = npos - len(defaults)
    required = []
    for i, n in enumerate(names):
        if i < npos:
            if i >= posonly and i < first_default:
                required.append(n)
        elif n not in kwdefaults:
            required.append(n)
    params = [n for i, n in enumerate(names) if i >= posonly]
    return params, required, bool(code.co_flags & 0x08)


def validate_input(fdef, data):
    """Checks `data` (a dict) against a FlowDef; returns the kwargs to call it with.
    Raises InputError naming the first bad field."""
    if not isinstance(data, dict):
        raise InputError("<input>", "expected a JSON object, got %s" % _json_type_name(data))
    fn = fdef.fn
    try:
        params, required, var_kw = signature_info(fn)
    except AttributeError:
        params, required, var_kw = list(data), [], True
    declared = fdef.inputs
    if declared is None:
        ann = getattr(fn, "__annotations__", None) or {}
        declared = {p: ann.get(p, object) for p in params}
        known = set(params)
        open_ended = var_kw
    else:
        known = set(declared) | set(params)
        open_ended = False
    for k in data:
        if k not in known and not open_ended:
            raise InputError(k, "unknown field (expected one of: %s)"
                             % (", ".join(sorted(known)) or "none"))
    for k in required:
        if k not in data:
            raise InputError(k, "missing required field")
    defaults = _param_defaults(fn)
    for k, v in data.items():
        spec = declared.get(k, object)
        if v is None and k in defaults and defaults[k] is None:
            continue
        if not _type_ok(spec, v):
            raise InputError(k, "expected %s, got %s" % (type_label(spec), _json_type_name(v)))
    return dict(data)


def _param_defaults(fn):
    try:
        code = fn.__code__
    except AttributeError:
        return {}
    npos = code.co_argcount
    d = fn.__defaults__ or ()
    out = dict(zip(code.co_varnames[npos - len(d):npos], d))
    out.update(fn.__kwdefaults__ or {})
    return out


# ---------------------------------------------------------------------------------------
# The call channel: `call` lines out, `call_result` lines back on the same socket.

_req_ids = _count(1)
_rlock = _thread.allocate_lock()
_rbuf = b""
_results = {}


def call(method, params=None):
    """Sends `call` and blocks until the matching `call_result`; returns its `result`.
    Raises CallError for an error answer or a closed channel."""
    global _rbuf, _last_flush
    if not _active:
        raise CallError(-32000, "no supervisor channel (standalone run)")
    req = next(_req_ids)
    ts = _time_ns() // 1000
    _emit('{"type":"call","req":%d,"method":%s,"params":%s}\n'
          % (req, _q(method), _jdump(params if params is not None else {})), ts, True)
    import json
    while True:
        with _rlock:
            msg = _results.pop(req, None)
            if msg is None:
                try:
                    chunk = os.read(_fd, 65536)
                except OSError as e:
                    raise CallError(-32000, "channel read failed: %s" % e)
                if not chunk:
                    raise CallError(-32000, "channel closed by the supervisor")
                _rbuf += chunk
                while b"\n" in _rbuf:
                    line, _rbuf = _rbuf.split(b"\n", 1)
                    if not line.strip():
                        continue
                    try:
                        m = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(m, dict) and m.get("type") == "call_result":
                        _results[m.get("req")] = m
                msg = _results.pop(req, None)
        if msg is not None:
            break
    err = msg.get("error")
    if err is not None:
        if isinstance(err, dict):
            raise CallError(err.get("code"), err.get("message", ""))
        raise CallError(-32000, str(err))
    return msg.get("result")


# ---------------------------------------------------------------------------------------
# flow.invoke

_PLAY_WAIT_MS = 30000


def _load_flow_source(name, source):
    import types
    mod = types.ModuleType("hero_flow_" + "".join(c if c.isalnum() else "_" for c in name))
    mod.__file__ = "<flow %s>" % name
    code = compile(source, mod.__file__, "exec")
    before = len(definitions)
    exec(code, mod.__dict__)
    mine = [d for d in definitions[before:] if d.name == name]
    if not mine:
        mine = [d for d in definitions[before:]]
    if not mine:
        raise LookupError("flow %r: its source defines no @flow entry" % name)
    return mine[-1]


def _invoke(name, spawn, inputs):
    """flow.invoke(): see SPEC §2. Frame depths below assume the call came via flow.invoke."""
    if spawn and _active:
        return _invoke_spawn(name, inputs)
    fdef = registry.get(name)
    if fdef is None:
        if not _active:
            raise LookupError("flow %r is not registered in this process "
                              "(and there is no supervisor to ask)" % name)
        got = call("flow_get", {"name": name})
        if not isinstance(got, dict) or "source" not in got:
            raise LookupError("flow_get %r returned no source" % name)
        fdef = _load_flow_source(got.get("name") or name, got["source"])
    kwargs = validate_input(fdef, inputs)
    if not _active or _is_async(fdef.fn):
        return fdef.wrapper(**kwargs)
    s = Span(fdef.name, None, "step")
    f = sys._getframe(2)   # _invoke <- flow.invoke <- the caller
    s._file = f.f_code.co_filename
    s._line = f.f_lineno
    with s:
        return fdef.fn(**kwargs)


def _invoke_spawn(name, inputs):
    # _run_child <- _invoke_spawn <- _invoke <- flow.invoke <- the caller
    return _run_child(name, {"flow": name, "input": inputs}, None, 5).get("output")


def _run_child(span_name, params, tags, depth):
    """flow.run_child(); `depth` is the caller's frame as seen from _start."""
    if not _active:
        raise CallError(-32000, "flow.run_child needs a supervisor (no span channel)")
    s = Span(span_name, dict(tags) if tags else None, "subflow")
    s._start(depth)
    try:
        p = dict(params)
        p["parent_span"] = s.id
        got = call("play_run_async", p)
        run_id = got.get("run_id") if isinstance(got, dict) else None
        if not isinstance(run_id, int):
            raise CallError(-32000, "play_run_async returned no run_id: %r" % (got,))
        s.link_run(run_id)
        while True:
            rec = call("play_wait", {"run_id": run_id, "timeout_ms": _PLAY_WAIT_MS})
            status = rec.get("status") if isinstance(rec, dict) else None
            if status not in ("queued", "running"):
                break
        s.tag(child_status=status)
        if status != "ok":
            reason = (rec.get("reason") if isinstance(rec, dict) else None) or \
                "child run %d ended %s" % (run_id, status)
            err = Failed(reason)
            err.record = rec
            raise err
    except BaseException as e:
        s._end(type(e), e)
        raise
    s._end(None, None)
    return rec


# ---------------------------------------------------------------------------------------
# instrument()


def summarize(value, limit=_RPC_SUMMARY_MAX):
    """repr(value) cut to `limit` chars (marked with '...')."""
    try:
        r = repr(value)
    except Exception as e:
        r = "<repr failed: %s>" % type(e).__name__
    if len(r) > limit:
        r = r[:limit - 3] + "..."
    return r


def _summarize_args(args, kwargs, limit=_RPC_SUMMARY_MAX):
    parts = []
    n = 0
    for a in args:
        p = summarize(a, limit)
        parts.append(p)
        n += len(p) + 2
        if n > limit:
            break
    else:
        for k, v in kwargs.items():
            p = "%s=%s" % (k, summarize(v, limit))
            parts.append(p)
            n += len(p) + 2
            if n > limit:
                break
    s = ", ".join(parts)
    if len(s) > limit:
        s = s[:limit - 3] + "..."
    return s


class _Instrumented:
    """Proxy made by instrument(): public method calls become `rpc` spans."""
    __slots__ = ("_hero_client", "_hero_service")

    def __init__(self, client, service):
        object.__setattr__(self, "_hero_client", client)
        object.__setattr__(self, "_hero_service", service)

    def __getattr__(self, name):
        client = object.__getattribute__(self, "_hero_client")
        attr = getattr(client, name)
        if name.startswith("_") or not callable(attr) or not _active:
            return attr
        return _rpc_wrapper(attr, object.__getattribute__(self, "_hero_service"), name)

    def __setattr__(self, name, value):
        setattr(object.__getattribute__(self, "_hero_client"), name, value)

    def __delattr__(self, name):
        delattr(object.__getattribute__(self, "_hero_client"), name)

    def __dir__(self):
        return dir(object.__getattribute__(self, "_hero_client"))

    def __repr__(self):
        return "<instrumented %r>" % (object.__getattribute__(self, "_hero_client"),)

    def __call__(self, *a, **kw):
        client = object.__getattribute__(self, "_hero_client")
        if not _active:
            return client(*a, **kw)
        return _rpc_wrapper(client, object.__getattribute__(self, "_hero_service"),
                            getattr(client, "__name__", "__call__"))(*a, **kw)


def _rpc_wrapper(method, service, name):
    extra = ',"rpc_service":%s,"rpc_method":%s' % (_q(service), _q(name))
    span_name = service + "." + name

    if _is_async(method):
        async def arpc(*a, **kw):
            s = Span(span_name, {"args": _summarize_args(a, kw)}, "rpc", extra)
            s._start(2)
            try:
                kw = _with_traceparent(method, s, a, kw)
                r = await method(*a, **kw)
            except BaseException as e:
                s._end(type(e), e)
                raise
            s.tag(result=summarize(r))
            s._end(None, None)
            return r
        return arpc

    def rpc(*a, **kw):
        s = Span(span_name, {"args": _summarize_args(a, kw)}, "rpc", extra)
        s._start(2)
        try:
            kw = _with_traceparent(method, s, a, kw)
            r = method(*a, **kw)
        except BaseException as e:
            s._end(type(e), e)
            raise
        s.tag(result=summarize(r))
        s._end(None, None)
        return r
    return rpc


def _with_traceparent(method, span, args, kwargs):
    """kwargs for an instrumented call, with the rpc span's traceparent injected into HTTP
    headers (hero_tracing/_otel.py) when the run has a trace context."""
    from hero_tracing import _otel
    tp = _otel.traceparent(span)
    return kwargs if tp is None else _otel.inject(method, args, kwargs, tp)


def instrument(client, service=None):
    """Wraps `client`: each public method call opens an `rpc` span (rpc_service = `service`
    or the client's class name, rpc_method = the method name) with the arguments and the
    result summarized (repr, at most 4 KiB) and errors recorded. Standalone: returns the
    client itself."""
    if service is None:
        service = getattr(client, "__name__", None) if isinstance(client, type) else None
        service = service or type(client).__name__
    if not _active:
        return client
    return _Instrumented(client, service)


# ---------------------------------------------------------------------------------------
# Connecting at import.


def _after_fork_in_child():
    global _lock, _kick, _flusher_alive, _idstr, _rlock, _size, _pid
    _lock = _thread.allocate_lock()
    _kick = _thread.allocate_lock()
    _flusher_alive = _thread.allocate_lock()
    _rlock = _thread.allocate_lock()
    del _buf[:]
    _size = 0
    _pid = os.getpid()
    _idstr = map(("p%d." % _pid).__add__, map(str, _count(1)))
    for c in (_out_capture, _err_capture):
        if c is not None:
            c._wlock = _thread.allocate_lock()
            c._pend = {}
    if _active and not _closing:
        _start_flusher()


def _connect():
    global _fd, _sock, _active
    env = os.environ
    fd_s = env.get("HERO_FLOW_SPAN_FD")
    path = env.get("HERO_FLOW_SPAN_SOCK")
    if fd_s:
        try:
            fd = int(fd_s)
            os.fstat(fd)
        except (ValueError, OSError) as e:
            sys.stderr.write("hero_tracing: HERO_FLOW_SPAN_FD=%r unusable (%s); running "
                             "standalone\n" % (fd_s, e))
            return
    elif path:
        try:
            import socket
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
        except OSError as e:
            sys.stderr.write("hero_tracing: cannot connect to HERO_FLOW_SPAN_SOCK=%r (%s); "
                             "running standalone\n" % (path, e))
            return
        _sock = s
        fd = s.fileno()
    else:
        return
    try:
        os.set_blocking(fd, True)
        os.set_inheritable(fd, False)   # subprocesses of the flow must not write to it
    except OSError:
        pass
    # Child processes of the flow run standalone unless their author wires them up.
    env.pop("HERO_FLOW_SPAN_FD", None)
    env.pop("HERO_FLOW_SPAN_SOCK", None)
    _fd = fd
    _active = True
    ts = _time_ns() // 1000
    import atexit
    atexit.register(_shutdown)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)
    _install_captures()
    _start_flusher()
    _emit('{"type":"hello","v":%d,"sdk":"%s","pid":%d}\n'
          % (PROTOCOL_VERSION, SDK_VERSION, _pid), ts, True)


_connect()
