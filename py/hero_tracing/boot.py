"""The boot module: `python3 -m hero_tracing.boot FLOW.py [--input-file PATH | --input JSON]
[--name FLOW]`. Loads a flow file, picks its @flow entry (or runs a plain script as __main__),
validates the input, runs it under the root span, sends `result`, exits 0-5
(span_listener/SPAN_FORMAT.md, "The boot module").

`python3 -m hero_tracing.boot --warm` is a warm-pool worker: it imports the SDK (which sends
`hello`), then blocks on the span socket until the supervisor's `dispatch` message brings the
run id, source, input and entry, and then boots exactly as the cold command would."""

import errno
import os
import sys

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_FLOW = 2
EXIT_MEMORY = 3
EXIT_FILE_SIZE = 4
EXIT_PROCESSES = 5

_PROG = "hero_tracing.boot"
USAGE = ("usage: python3 -m hero_tracing.boot FLOW.py [--input-file PATH | --input JSON] "
         "[--name FLOW] [--source-name PATH]\n"
         "       python3 -m hero_tracing.boot --warm   (warm-pool worker: waits for dispatch)")
DISPATCH_VERSION = 1
# Where a cold untrusted run sees its staged files (sandbox/launcher_abi.h).
_SANDBOX_FLOW = "/hero/flow.py"
_SANDBOX_INPUT = "/hero/input.json"

# What the supervisor's reason says for exit codes 3-5 (also tagged on the root as `limit`).
_LIMITS = {
    EXIT_MEMORY: ("memory", "memory limit reached"),
    EXIT_FILE_SIZE: ("file_size", "file size limit reached"),
    EXIT_PROCESSES: ("processes", "process limit reached: cannot start a thread or process"),
}


class BootError(Exception):
    """A bad flow file, entry or input: exit 2 with this message."""


class _Opts:
    __slots__ = ("path", "input_json", "input_file", "name", "source_name", "source",
                 "input_where")

    def __init__(self):
        self.path = None
        self.input_json = None
        self.input_file = None
        self.name = None
        self.source_name = None
        self.source = None        # warm: the source bytes (path is then only its name)
        self.input_where = None   # warm: how errors name the input ("input file PATH")


def parse_args(argv):
    """Parses the boot CLI without argparse (start-up cost). Raises BootError."""
    o = _Opts()
    i = 0
    positional_only = False
    while i < len(argv):
        a = argv[i]
        i += 1
        if not positional_only and a.startswith("--") and len(a) > 2:
            key, eq, val = a.partition("=")
            if key not in ("--input", "--input-file", "--name", "--source-name"):
                raise BootError("unknown option %s\n%s" % (key, USAGE))
            if not eq:
                if i >= len(argv):
                    raise BootError("option %s needs a value\n%s" % (key, USAGE))
                val = argv[i]
                i += 1
            if key == "--input":
                o.input_json = val
            elif key == "--input-file":
                o.input_file = val
            elif key == "--source-name":
                o.source_name = val
            else:
                o.name = val
        elif a == "--" and not positional_only:
            positional_only = True
        elif o.path is None:
            o.path = a
        else:
            raise BootError("unexpected argument %r\n%s" % (a, USAGE))
    if o.path is None:
        raise BootError("missing FLOW.py\n%s" % USAGE)
    if o.input_json is not None and o.input_file is not None:
        raise BootError("give either --input or --input-file, not both")
    return o


def read_input(opts):
    """The input object (default {}). Raises BootError."""
    if opts.input_file is not None:
        try:
            if opts.input_file == "-":
                text = sys.stdin.read()
            else:
                with open(opts.input_file, "rb") as f:
                    text = f.read().decode("utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise BootError("cannot read input file %s: %s" % (opts.input_file, e))
        where = "input file %s" % opts.input_file
    elif opts.input_json is not None:
        text = opts.input_json
        where = opts.input_where or "--input"
    else:
        return {}
    if not text.strip():
        return {}
    import json
    try:
        data = json.loads(text)
    except ValueError as e:
        raise BootError("%s is not valid JSON: %s" % (where, e))
    if not isinstance(data, dict):
        raise BootError("%s must be a JSON object, got %s" % (where, type(data).__name__))
    return data


def has_flow_decorator(source):
    """True if some line is a decorator `@flow`, `@flow(...)` or `@x.flow(...)`.
    A text scan, not `ast` (start-up cost); see inspect_flow for the exact parse."""
    if b"flow" not in source:
        return False
    for raw in source.split(b"\n"):
        line = raw.strip()
        if not line.startswith(b"@"):
            continue
        expr = line[1:].split(b"(", 1)[0].split(b"#", 1)[0].strip()
        if expr == b"flow" or expr.endswith(b".flow"):
            return True
    return False


def _from_process_start(exc):
    """Whether an EAGAIN came from starting a thread or process (not from non-blocking I/O)."""
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    if last is None:
        return True
    code = last.tb_frame.f_code
    fname = code.co_filename.replace("\\", "/")
    for part in ("/subprocess.py", "/multiprocessing/", "/threading.py", "/concurrent/",
                 "/os.py", "/pty.py"):
        if part in fname:
            return True
    for part in ("/socket.py", "/ssl.py", "/selectors.py", "/asyncio/"):
        if part in fname:
            return False
    try:
        import linecache
        text = linecache.getline(code.co_filename, last.tb_lineno)
    except Exception:
        text = ""
    return any(w in text for w in ("fork", "spawn", "Popen", "Thread", ".start(", "exec"))


def exit_code_for(exc):
    """Maps an exception ending the run to a boot exit code: MemoryError -> 3, EFBIG -> 4,
    "can't start new thread" or EAGAIN from fork/thread start -> 5, anything else -> 1.
    Looks through the __cause__/__context__ chain, so a limit error re-raised as Failed
    still names the limit."""
    seen = set()
    e = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, MemoryError):
            return EXIT_MEMORY
        if isinstance(e, OSError):
            if e.errno == errno.EFBIG:
                return EXIT_FILE_SIZE
            if e.errno == errno.EAGAIN and _from_process_start(e):
                return EXIT_PROCESSES
        if isinstance(e, RuntimeError) and "can't start new thread" in str(e):
            return EXIT_PROCESSES
        e = e.__cause__ or e.__context__
    return EXIT_FAILED


def _join_threads():
    """Waits for the flow's non-daemon threads, as the interpreter does before it exits, so
    the root span covers them and their output lands in it. Daemon threads are not waited
    for (they die at exit, as under plain python3)."""
    threading = sys.modules.get("threading")
    if threading is None:
        return
    me = threading.current_thread()
    while True:
        waiting = [t for t in threading.enumerate()
                   if t is not me and not t.daemon and t.is_alive()]
        if not waiting:
            return
        for t in waiting:
            t.join()


def _ignore_sigxfsz():
    # A write past RLIMIT_FSIZE then fails with EFBIG (exit 4) instead of killing us.
    try:
        import _signal as sig
    except ImportError:  # pragma: no cover
        import signal as sig
    try:
        sig.signal(sig.SIGXFSZ, sig.SIG_IGN)
    except (AttributeError, ValueError, OSError):
        pass


class _Boot:
    """One boot: owns the root span and turns outcomes into exit codes."""

    def __init__(self, ht, opts):
        self.ht = ht
        self.opts = opts
        self.root = None
        self.stderr = ht.real_stderr()

    def say(self, msg):
        try:
            self.stderr.write("%s: %s\n" % (_PROG, msg))
            self.stderr.flush()
        except (OSError, ValueError):
            pass

    def open_root(self, name, path):
        ht = self.ht
        if not ht.flow.active:
            return
        root = ht.Span(name, None, "flow_root")
        root._file = path
        root._line = 1
        self.root = root._start(0, None)

    def end_root_ok(self):
        _join_threads()
        if self.root is not None:
            self.root._end(None, None)

    def bad(self, msg, exc_type="BootError", tb=None):
        """Exit 2: message on stderr and as the root's error."""
        self.say(msg)
        root = self.root
        if root is not None:
            ht = self.ht
            line = '{"type":"span_end","id":"%s","ts":%d,"status":"failed","error":%s,' \
                   '"error_type":%s%s,"cpu_us":0,"rss_kb":0}\n' % (
                       root.id, ht._time_ns() // 1000, ht._qs(msg), ht._q(exc_type),
                       ',"traceback":' + ht._qs(tb) if tb else "")
            ht._cur.set(None)
            ht._root = None
            ht._emit(line, 0, True)
        return EXIT_BAD_FLOW

    def failed(self, exc, flow_name):
        """The run ended with an exception: end the root, say why, pick the exit code."""
        _join_threads()
        ht = self.ht
        root = self.root
        if isinstance(exc, SystemExit):
            code = exc.code
            if code is None or code == 0:
                self.end_root_ok()
                return EXIT_OK
            n = code if isinstance(code, int) else 1
            if not isinstance(code, int):
                try:
                    self.stderr.write("%s\n" % (code,))
                except (OSError, ValueError):
                    pass
            if root is not None:
                root.tag(exit_code=n)
                root._end(SystemExit, exc)
            self.say("exit code %d" % n)
            return EXIT_FAILED
        rc = exit_code_for(exc)
        if root is not None:
            if rc in _LIMITS:
                # The limit is reported as a fact on the channel (the supervisor never trusts
                # exit codes 3-5 alone: os._exit(3) is not a memory limit), and the root ends
                # `killed`, as the run will.
                root.tag(limit=_LIMITS[rc][0])
                try:
                    msg = ("%s: %s" % (ht._type_name(type(exc)), exc))[:1000]
                except Exception:
                    msg = _LIMITS[rc][1]
                ht._emit('{"type":"limit","name":"%s","error":%s}\n' % (
                    _LIMITS[rc][0], ht._qs(msg)), ht._time_ns() // 1000, False)
                root._end(type(exc), exc, "killed")
            else:
                root._end(type(exc), exc)
        elif not isinstance(exc, ht.Failed):
            try:
                self.stderr.write(ht.format_traceback(exc))
            except Exception:
                pass
        step = getattr(exc, "_hero_step", None)
        where = " in step %r" % step if step and step != flow_name else ""
        what = "Failed" if isinstance(exc, ht.Failed) else ht._type_name(type(exc))
        if rc in _LIMITS:
            self.say("%s: %s%s: %s" % (_LIMITS[rc][1], what, where, exc))
        else:
            self.say("flow failed: %s%s: %s" % (what, where, exc))
        return rc

    def send_result(self, output):
        ht = self.ht
        if not ht.flow.active:
            if output is not None:
                sys.stdout.write(ht._jdump(output) + "\n")
            return
        j = ht._jdump(output)
        if len(j) > ht._OUTPUT_MAX:
            j = ht._jdump({"truncated": True, "preview": j[:65536]})
        ht._emit('{"type":"result","output":%s}\n' % j, ht._time_ns() // 1000, True)

    def run(self):
        ht = self.ht
        opts = self.opts
        path = opts.path
        # The supervisor stages the source (e.g. as .hero/flow.py); --source-name is the file
        # the author knows, used for the root's name, spans' `file` and tracebacks.
        shown = opts.source_name or path
        self.open_root(os.path.basename(shown) or shown, shown)
        try:
            data = read_input(opts)
        except BootError as e:
            return self.bad(str(e))
        source = opts.source
        if source is None:
            try:
                with open(path, "rb") as f:
                    source = f.read()
            except OSError as e:
                return self.bad("cannot read flow file %s: %s" % (path, e.strerror or e),
                                "OSError")
        try:
            code = compile(source, shown, "exec", dont_inherit=True)
            if shown != path:
                import linecache
                text = source.decode("utf-8", "replace")
                linecache.cache[shown] = (len(text), None, text.splitlines(True), shown)
        except SyntaxError as e:
            import traceback
            tb = "".join(traceback.format_exception_only(type(e), e))
            return self.bad("%s:%s: %s: %s" % (e.filename or path, e.lineno,
                                                type(e).__name__, e.msg),
                            type(e).__name__, tb)
        except ValueError as e:  # source contains null bytes
            return self.bad("%s: cannot compile: %s" % (path, e), "ValueError")

        sys.path[0:1] = [os.path.dirname(os.path.abspath(path))]
        sys.argv = [path]
        is_flow = has_flow_decorator(source)
        mod = type(sys)("hero_flow" if is_flow else "__main__")
        mod.__file__ = path
        mod.__builtins__ = __builtins__
        sys.modules[mod.__name__] = mod
        before = len(ht.definitions)
        try:
            exec(code, mod.__dict__)
        except BaseException as e:  # noqa: B902 - every outcome maps to an exit code
            return self.failed(e, None)
        if not is_flow:
            self.end_root_ok()
            return EXIT_OK

        entries = {}
        for d in ht.definitions[before:]:
            if getattr(d.fn, "__globals__", None) is mod.__dict__:
                entries[d.name] = d
        if opts.name is not None:
            entry = entries.get(opts.name)
            if entry is None:
                return self.bad("no @flow named %r in %s (found: %s)" % (
                    opts.name, path, ", ".join(entries) or "none"))
        elif len(entries) == 1:
            entry = next(iter(entries.values()))
        elif not entries:
            # A decorator-looking line but nothing registered: the module ran as a script.
            self.end_root_ok()
            return EXIT_OK
        else:
            env_name = os.environ.get("HERO_FLOW_NAME")
            entry = entries.get(env_name) if env_name else None
            if entry is None:
                return self.bad("ambiguous entry: %d @flow functions in %s (%s); pass --name" % (
                    len(entries), path, ", ".join(entries)))
        try:
            kwargs = ht.validate_input(entry, data)
        except ht.InputError as e:
            return self.bad(str(e), "InputError")

        root = self.root
        if root is not None:
            root.name = entry.name
            root._file = entry.file or path
            root._line = entry.line
            root._restart()
        try:
            out = entry.fn(**kwargs)
            if ht._is_async(entry.fn):
                import asyncio
                out = asyncio.run(out)
        except BaseException as e:  # noqa: B902
            return self.failed(e, entry.name)
        self.end_root_ok()
        self.send_result(out)
        return EXIT_OK


def _read_dispatch(ht):
    """Blocks until the supervisor's dispatch line arrives on the span socket; returns it
    parsed. None if the supervisor closed the socket first (the worker was recycled)."""
    import json
    fd = ht._fd
    buf = b""
    while b"\n" not in buf:
        try:
            chunk = os.read(fd, 65536)
        except InterruptedError:
            continue
        if not chunk:
            return None
        buf += chunk
    line, rest = buf.split(b"\n", 1)
    # Nothing else is sent before the child's first `call`; keep any bytes for call().
    ht._rbuf = rest + ht._rbuf
    try:
        msg = json.loads(line)
    except ValueError as e:
        raise BootError("dispatch message is not valid JSON: %s" % e)
    if not isinstance(msg, dict) or msg.get("type") != "dispatch":
        raise BootError("expected a dispatch message, got %r" % (line[:80],))
    if msg.get("v") != DISPATCH_VERSION:
        raise BootError("unsupported dispatch version %r (this boot speaks %d)"
                        % (msg.get("v"), DISPATCH_VERSION))
    for key in ("run_id", "source", "input"):
        if not isinstance(msg.get(key), str):
            raise BootError("dispatch message: %r must be a string" % key)
    return msg


def _lower_cpu_limit(cpu_seconds):
    """The worker started with a high RLIMIT_CPU; the run's limit counts from dispatch:
    soft = CPU used so far (rounded up) + cpu_seconds, hard = soft + 2 (as the launcher sets
    it for a cold run). Lowering needs no privilege."""
    import resource
    ru = resource.getrusage(resource.RUSAGE_SELF)
    soft = int(ru.ru_utime + ru.ru_stime) + 1 + int(cpu_seconds)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard == resource.RLIM_INFINITY or soft + 2 <= hard:
        resource.setrlimit(resource.RLIMIT_CPU, (soft, soft + 2))


def _warm_opts(msg):
    """Turns a dispatch message into the options, files and environment a cold boot of the
    same run would have (SPAN_FORMAT.md, "dispatch")."""
    o = _Opts()
    env = os.environ
    env["HERO_FLOW_RUN_ID"] = msg["run_id"]
    for key, var in (("traceparent", "TRACEPARENT"), ("tracestate", "TRACESTATE"),
                     ("span_seed", "HERO_FLOW_SPAN_SEED")):
        if msg.get(key):
            env[var] = msg[key]
    name = msg.get("name") or None
    if name is not None:
        env["HERO_FLOW_NAME"] = name
    o.name = name
    o.source_name = msg.get("source_name") or None
    o.source = msg["source"].encode("utf-8", "surrogatepass")
    o.input_json = msg["input"]
    workdir = msg.get("workdir")
    if workdir:
        # Trusted: the supervisor renamed the worker's workdir to the run's (our cwd moved
        # with it); stage the files where the launcher stages them for a cold run.
        env["HOME"] = workdir
        env["TMPDIR"] = os.path.join(workdir, "tmp")
        os.chdir(workdir)
        stage = os.path.join(workdir, ".hero")
        o.path = os.path.join(stage, "flow.py")
        inp = os.path.join(stage, "input.json")
        try:
            os.makedirs(stage, 0o700, exist_ok=True)
            for p, data in ((o.path, o.source), (inp, o.input_json.encode("utf-8"))):
                with open(p, "wb") as f:
                    f.write(data)
        except OSError:
            pass  # the source still runs from memory
    else:
        # Untrusted: the names a cold run has (its files are bound read-only at /hero/).
        o.path = _SANDBOX_FLOW
        inp = _SANDBOX_INPUT
    o.input_where = "input file %s" % inp
    if isinstance(msg.get("cpu_seconds"), int):
        _lower_cpu_limit(msg["cpu_seconds"])
    return o


def _warm_main():
    import hero_tracing as ht  # connects: `hello` goes out now, before the wait
    if not ht.flow.active:
        sys.stderr.write("%s: --warm needs a span channel (HERO_FLOW_SPAN_FD)\n" % _PROG)
        return EXIT_BAD_FLOW
    import json  # noqa: F401 -- paid before the dispatch, not after
    import resource  # noqa: F401
    try:
        msg = _read_dispatch(ht)
        if msg is None:
            return EXIT_OK  # recycled before any run: nothing to report
        opts = _warm_opts(msg)
    except (BootError, OSError, ValueError) as e:
        sys.stderr.write("%s: %s\n" % (_PROG, e))
        return EXIT_BAD_FLOW
    return _run_boot(ht, opts)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("-h", "--help"):
        sys.stdout.write(USAGE + "\n")
        return EXIT_OK
    warm = argv == ["--warm"]
    if not warm:
        try:
            opts = parse_args(argv)
        except BootError as e:
            sys.stderr.write("%s: %s\n" % (_PROG, e))
            return EXIT_BAD_FLOW
    _ignore_sigxfsz()
    # glibc read MALLOC_ARENA_MAX when the interpreter started (it lets 64 threads start under
    # the address-space limit); the flow's environment keeps to the SPEC allowlist.
    os.environ.pop("MALLOC_ARENA_MAX", None)
    if warm:
        return _warm_main()
    import hero_tracing as ht
    return _run_boot(ht, opts)


def _run_boot(ht, opts):
    boot = _Boot(ht, opts)
    try:
        return boot.run()
    finally:
        try:
            ht.flush()
        except BaseException:
            pass
        for s in (sys.__stdout__, sys.__stderr__):
            try:
                s.flush()
            except (OSError, ValueError, AttributeError):
                pass


if __name__ == "__main__":
    sys.exit(main())
