"""SDK behaviour through a real socketpair: spans, parents, decorators, failures, tags, logs,
context propagation (asyncio, flow.thread, flow.map, plain threads), instrument(),
standalone mode."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


class SdkTestBase(unittest.TestCase):
    def setUp(self):
        self.files = harness.FlowFiles()

    def tearDown(self):
        self.files.cleanup()

    def boot(self, source, *args, **kw):
        return harness.run_boot(self.files, source, *args, **kw)

    def assertParent(self, run, child, parent):
        self.assertEqual(run.span(child)["parent"], run.span(parent)["id"],
                         "%s should be a child of %s" % (child, parent))


class SpanTreeTest(SdkTestBase):
    def test_hello_is_first_and_well_formed(self):
        r = self.boot("""
            from hero_tracing import flow
            @flow
            def f():
                return 1
        """)
        self.assertEqual(r.rc, 0, r.stderr)
        hello = r.events[0]
        self.assertEqual(hello["type"], "hello")
        self.assertEqual(hello["v"], 1)
        self.assertEqual(hello["sdk"], "0.1.0")
        self.assertIsInstance(hello["pid"], int)
        self.assertTrue(r.raw.endswith(b"\n"))

    def test_nested_steps_have_parents_and_locations(self):
        r = self.boot("""
            from hero_tracing import flow
            @flow(name="outer_flow")
            def f():
                with flow.step("a"):
                    with flow.step("b"):
                        pass
                    with flow.span("c"):
                        pass
                with flow.step("d"):
                    pass
        """)
        self.assertEqual(r.rc, 0, r.stderr)
        root = r.root()
        self.assertEqual(root["name"], "outer_flow")
        self.assertEqual(root["kind"], "flow_root")
        self.assertIsNone(root["parent"])
        self.assertParent(r, "a", "outer_flow")
        self.assertParent(r, "b", "a")
        self.assertParent(r, "c", "a")
        self.assertParent(r, "d", "outer_flow")
        b = r.span("b")
        self.assertEqual(b["kind"], "step")
        self.assertTrue(b["file"].endswith("flow.py"))
        self.assertEqual(b["line"], 5)
        self.assertEqual(r.span("d")["line"], 9)
        # Every span ends exactly once, ok, with ts >= start.
        ends = r.ends()
        for sid, s in r.starts().items():
            self.assertEqual(ends[sid]["status"], "ok")
            self.assertGreaterEqual(ends[sid]["ts"], s["ts"])
        self.assertEqual(len(r.of_type("span_end")), len(ends))
        # ids are counter strings, unique.
        ids = [e["id"] for e in r.of_type("span_end")]
        self.assertEqual(len(ids), len(set(ids)))
        self.assertTrue(all(i.isdigit() for i in ids))

    def test_decorator_forms(self):
        r = self.boot("""
            from hero_tracing import flow
            @flow.step
            def bare():
                return "bare"
            @flow.step("named", color="red")
            def named():
                return "named"
            @flow.step()
            def empty_call():
                return "e"
            @flow
            def helper_flow(x=1):
                return x + 1
            @flow(name="main_flow")
            def main():
                assert bare() == "bare"
                assert named() == "named"
                assert empty_call() == "e"
                assert helper_flow(x=2) == 3
                assert named() == "named"
                return "ok"
        """, "--name", "main_flow")
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertParent(r, "bare", "main_flow")
        self.assertEqual(r.tags("named"), {"color": "red"})
        self.assertEqual(len([e for e in r.of_type("span_start") if e["name"] == "named"]), 2)
        self.assertParent(r, "empty_call", "main_flow")
        # A @flow called from inside a flow is a child span of kind step.
        hf = r.span("helper_flow")
        self.assertEqual(hf["kind"], "step")
        self.assertParent(r, "helper_flow", "main_flow")
        self.assertEqual(r.result(), "ok")

    def test_top_level_flow_call_without_boot_is_the_root(self):
        r = harness.run_script(self.files, """
            from hero_tracing import flow
            @flow(name="direct")
            def direct(n):
                with flow.step("inside"):
                    return n * 2
            if __name__ == "__main__":
                print(direct(21))
        """)
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertEqual(r.root()["name"], "direct")
        self.assertEqual(r.root()["kind"], "flow_root")
        self.assertParent(r, "inside", "direct")
        # The print after the root ended goes to the real stdout.
        self.assertEqual(r.stdout, "42\n")

    def test_async_step_and_task_inheritance(self):
        r = self.boot("""
            import asyncio
            from hero_tracing import flow

            @flow.step("decorated_async")
            async def work(i):
                await asyncio.sleep(0.01)
                with flow.step("leaf%d" % i):
                    await asyncio.sleep(0)
                return i

            async def main():
                async with flow.step("gather"):
                    return await asyncio.gather(*[asyncio.create_task(work(i))
                                                  for i in range(3)])

            @flow
            def f():
                with flow.step("outer"):
                    return asyncio.run(main())
        """)
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertEqual(r.result(), [0, 1, 2])
        self.assertParent(r, "gather", "outer")
        starts = r.of_type("span_start")
        works = [e for e in starts if e["name"] == "decorated_async"]
        self.assertEqual(len(works), 3)
        gid = r.span("gather")["id"]
        self.assertTrue(all(w["parent"] == gid for w in works))
        work_ids = {w["id"] for w in works}
        for i in range(3):
            self.assertIn(r.span("leaf%d" % i)["parent"], work_ids)

    def test_async_flow_entry(self):
        r = self.boot("""
            import asyncio
            from hero_tracing import flow
            @flow(inputs={"n": int})
            async def f(n):
                with flow.step("s"):
                    await asyncio.sleep(0)
                return n + 1
        """, "--input", '{"n": 4}')
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertEqual(r.result(), 5)
        self.assertParent(r, "s", "f")


class FailureTest(SdkTestBase):
    def test_failed_has_reason_and_no_traceback(self):
        r = self.boot("""
            from hero_tracing import flow
            @flow
            def f():
                with flow.step("check"):
                    raise flow.Failed("input was empty")
        """)
        self.assertEqual(r.rc, 1)
        end = r.end_of("check")
        self.assertEqual(end["status"], "failed")
        self.assertEqual(end["error"], "input was empty")
        self.assertEqual(end["error_type"], "Failed")
        self.assertNotIn("traceback", end)
        root_end = r.end_of("f")
        self.assertEqual(root_end["status"], "failed")
        self.assertEqual(root_end["error_type"], "Failed")
        self.assertIn("step 'check'", r.stderr)
        self.assertIn("input was empty", r.stderr)
        self.assertEqual(r.of_type("result"), [])

    def test_failed_is_importable_from_package(self):
        r = self.boot("""
            from hero_tracing import flow, Failed
            assert flow.Failed is Failed
            @flow
            def f():
                raise Failed("top")
        """)
        self.assertEqual(r.rc, 1)
        self.assertEqual(r.end_of("f")["error"], "top")

    def test_exception_has_type_message_traceback_and_propagates(self):
        r = self.boot("""
            from hero_tracing import flow
            class BadThing(Exception):
                pass
            @flow
            def f():
                try:
                    with flow.step("inner"):
                        raise KeyError("k")
                except KeyError:
                    pass
                with flow.step("parse"):
                    raise BadThing("broken input")
        """)
        self.assertEqual(r.rc, 1)
        inner = r.end_of("inner")
        self.assertEqual(inner["status"], "failed")
        self.assertEqual(inner["error_type"], "KeyError")
        self.assertEqual(inner["error"], "'k'")
        parse = r.end_of("parse")
        self.assertEqual(parse["error_type"], "hero_flow.BadThing")
        self.assertEqual(parse["error"], "broken input")
        tb = parse["traceback"]
        self.assertTrue(tb.startswith("Traceback (most recent call last):"), tb)
        self.assertIn('flow.py", line 12', tb)
        self.assertIn("BadThing: broken input", tb)
        self.assertNotIn("hero_tracing", tb)  # SDK frames are stripped
        root = r.end_of("f")
        self.assertEqual(root["status"], "failed")
        self.assertIn("traceback", root)
        self.assertIn("flow failed: hero_flow.BadThing in step 'parse': broken input", r.stderr)

    def test_plain_script_exception_and_system_exit(self):
        r = self.boot("""
            import sys
            print("before")
            sys.exit(3)
        """, name="plain.py")
        self.assertEqual(r.rc, 1)
        root = r.root()
        self.assertEqual(root["name"], "plain.py")
        self.assertEqual(root["kind"], "flow_root")
        self.assertEqual(r.tags("plain.py"), {"exit_code": 3})
        end = r.end_of("plain.py")
        self.assertEqual(end["status"], "failed")
        self.assertEqual(end["error"], "exit code 3")
        self.assertEqual(r.logs("plain.py", "stdout"), "before\n")

    def test_plain_script_exit_zero_is_ok(self):
        r = self.boot("""
            import sys
            sys.exit(0)
        """, name="plain0.py")
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertEqual(r.end_of("plain0.py")["status"], "ok")


class TagsAndLogsTest(SdkTestBase):
    def test_tags_merge(self):
        r = self.boot("""
            from hero_tracing import flow
            @flow
            def f():
                with flow.step("s", a=1, b="x") as s:
                    s.tag(b="y", c=[1, 2])
                    flow.tag(d={"k": None}, e=1.5)
                    flow.current_span.tag(f=True)
                flow.tag(on_root=1)
        """)
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertEqual(r.span("s")["tags"], {"a": 1, "b": "x"})
        self.assertEqual(r.tags("s"), {"a": 1, "b": "y", "c": [1, 2], "d": {"k": None},
                                       "e": 1.5, "f": True})
        self.assertEqual(r.tags("f"), {"on_root": 1})

    def test_odd_tag_values_stay_valid_json(self):
        r = self.boot("""
            from hero_tracing import flow
            class Obj:
                def __repr__(self):
                    return "<Obj>"
            @flow
            def f():
                with flow.step("s") as s:
                    s.tag(obj=Obj(), nan=float("nan"), t=(1, 2), quote='a"b\\\\c\\n', u="\u00e9")
        """)
        self.assertEqual(r.rc, 0, r.stderr)
        tags = r.tags("s")
        self.assertEqual(tags["obj"], "<Obj>")
        self.assertEqual(tags["nan"], "nan")
        self.assertEqual(tags["t"], [1, 2])
        self.assertEqual(tags["quote"], 'a"b\\c\n')
        self.assertEqual(tags["u"], "\u00e9")

    def test_print_and_stderr_become_span_logs(self):
        r = self.boot("""
            import sys
            from hero_tracing import flow
            @flow
            def f():
                print("on root")
                with flow.step("s"):
                    print("hello", "world")
                    print("partial", end="")
                    print(" line")
                    sys.stderr.write("err text\\n")
                    flow.log("explicit")
                    with flow.step("inner"):
                        print("inner line")
                    print("no newline", end="")
                print("after")
        """)
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertEqual(r.logs("s", "stdout"), "hello world\npartial line\nno newline")
        self.assertEqual(r.logs("s", "stderr"), "err text\n")
        self.assertEqual(r.logs("s", "log"), "explicit")
        self.assertEqual(r.logs("inner", "stdout"), "inner line\n")
        self.assertEqual(r.logs("f", "stdout"), "on root\nafter\n")
        # Captured output is not also written to the real fd.
        self.assertEqual(r.stdout, "")
        for e in r.of_type("span_log"):
            self.assertIsInstance(e["ts"], int)

    def test_big_log_is_split_below_line_limit(self):
        r = self.boot("""
            from hero_tracing import flow
            @flow
            def f():
                with flow.step("s"):
                    print("x" * 3000000)
        """)
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertEqual(r.logs("s"), "x" * 3000000 + "\n")
        for line in r.raw.split(b"\n"):
            self.assertLess(len(line), 1 << 20)

    def test_cpu_and_rss_fields(self):
        r = self.boot("""
            from hero_tracing import flow
            @flow
            def f():
                with flow.step("busy"):
                    x = 0
                    for i in range(300000):
                        x += i
                with flow.step("alloc"):
                    big = bytearray(64 << 20)
                    big[::4096] = b"x" * len(big[::4096])
        """)
        self.assertEqual(r.rc, 0, r.stderr)
        busy = r.end_of("busy")
        self.assertGreater(busy["cpu_us"], 1000)
        self.assertGreaterEqual(busy["rss_kb"], 0)
        self.assertGreater(r.end_of("alloc")["rss_kb"], 30000)


class ThreadsTest(SdkTestBase):
    def test_flow_thread_map_and_plain_thread_parenting(self):
        r = self.boot("""
            import threading
            from hero_tracing import flow

            def job(tag):
                with flow.step("job_" + tag):
                    print("from", tag)

            @flow
            def f():
                with flow.step("spawner"):
                    t = flow.thread(job, "ft")
                    t.start(); t.join()
                    p = threading.Thread(target=job, args=("plain",))
                    p.start(); p.join()
                    out = flow.map(lambda i: job("m%d" % i) or i * i, range(4), max_workers=2)
                return out
        """)
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertEqual(r.result(), [0, 1, 4, 9])
        self.assertParent(r, "job_ft", "spawner")
        self.assertParent(r, "job_plain", "f")       # plain thread -> root
        for i in range(4):
            self.assertParent(r, "job_m%d" % i, "spawner")
        self.assertEqual(r.logs("job_ft"), "from ft\n")
        self.assertEqual(r.logs("job_plain"), "from plain\n")

    def test_many_threads_write_whole_lines(self):
        r = self.boot("""
            from hero_tracing import flow
            def work(i):
                for j in range(200):
                    with flow.step("w", i=i, j=j):
                        print("line", i, j)
                return i
            @flow
            def f():
                return sum(flow.map(work, range(8), max_workers=8))
        """)
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertEqual(r.result(), 28)
        starts = [e for e in r.of_type("span_start") if e["name"] == "w"]
        self.assertEqual(len(starts), 1600)
        ends = r.ends()
        self.assertTrue(all(ends[s["id"]]["status"] == "ok" for s in starts))
        logs = r.of_type("span_log")
        self.assertEqual(len(logs), 1600)


class InstrumentTest(SdkTestBase):
    SOURCE = """
        from hero_tracing import flow, instrument
        class Store:
            version = "1.2"
            def __init__(self):
                self._conn = "private-conn"
            def get(self, key, default=None):
                return {"key": key, "value": 42}
            def big(self, data):
                return data * 2
            def fail(self):
                raise ConnectionError("store down")
            def _internal(self):
                return "internal"
        @flow
        def f():
            s = instrument(Store())
            named = instrument(Store(), service="kv")
            assert s.version == "1.2"
            assert s._conn == "private-conn"
            assert s._internal() == "internal"
            s.get("a", default=1)
            named.get("b")
            s.big("z" * 10000)
            try:
                s.fail()
            except ConnectionError:
                pass
            return "done"
    """

    def test_rpc_spans(self):
        r = self.boot(self.SOURCE)
        self.assertEqual(r.rc, 0, r.stderr)
        rpc = [e for e in r.of_type("span_start") if e["kind"] == "rpc"]
        self.assertEqual([e["name"] for e in rpc],
                         ["Store.get", "kv.get", "Store.big", "Store.fail"])
        get = r.span("Store.get")
        self.assertEqual(get["rpc_service"], "Store")
        self.assertEqual(get["rpc_method"], "get")
        self.assertParent(r, "Store.get", "f")
        self.assertEqual(r.tags("Store.get"),
                         {"args": "'a', default=1", "result": "{'key': 'a', 'value': 42}"})
        self.assertEqual(r.span("kv.get")["rpc_service"], "kv")
        big = r.tags("Store.big")
        self.assertEqual(len(big["args"]), 4096)
        self.assertTrue(big["args"].endswith("..."))
        self.assertEqual(len(big["result"]), 4096)
        fail = r.end_of("Store.fail")
        self.assertEqual(fail["status"], "failed")
        self.assertEqual(fail["error_type"], "ConnectionError")
        self.assertEqual(fail["error"], "store down")
        self.assertIn("traceback", fail)
        self.assertNotIn("result", r.tags("Store.fail"))
        # private attributes and methods make no spans
        self.assertFalse([e for e in r.of_type("span_start") if "_internal" in e["name"]])

    def test_standalone_instrument_returns_client(self):
        r = harness.run_child(["-c", """
from hero_tracing import instrument
class C:
    def m(self): return 1
c = C()
assert instrument(c) is c
print("ok")
"""], channel=False)
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertEqual(r.stdout, "ok\n")


class StandaloneTest(SdkTestBase):
    SOURCE = """
        import threading
        from hero_tracing import flow, instrument
        @flow(name="adder", inputs={"n": int})
        def adder(n):
            print("printing normally", n)
            return {"n": n}
        @flow(name="standalone", inputs={"n": int})
        def standalone(n=2):
            with flow.step("a", x=1) as s:
                s.tag(y=2)
                s.log("ignored")
                flow.tag(z=3)
                flow.log("ignored too")
                print("printing normally", n)
                assert not flow.current_span
                flow.current_span.tag(q=1)
            t = flow.thread(print, "from thread")
            t.start(); t.join()
            assert flow.map(lambda v: v + 1, [1, 2]) == [2, 3]
            try:
                with flow.step("b"):
                    raise flow.Failed("nope")
            except flow.Failed as e:
                assert str(e) == "nope"
            assert flow.invoke("adder", n=5) == {"n": 5}
            assert flow.invoke("adder", spawn=True, n=6) == {"n": 6}
            return {"n": n}
        if __name__ == "__main__":
            print(standalone(7))
    """

    def test_python_file_runs_as_plain_python(self):
        path = self.files.write("standalone.py", self.SOURCE)
        r = harness.run_child([path], channel=False)
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertEqual(r.stdout, "printing normally 7\nfrom thread\n"
                                   "printing normally 5\nprinting normally 6\n{'n': 7}\n")
        self.assertEqual(r.stderr, "")

    def test_import_does_not_touch_stdout(self):
        r = harness.run_child(["-c", "import sys, hero_tracing; "
                               "print(sys.stdout.__class__.__name__)"], channel=False)
        self.assertEqual(r.stdout, "TextIOWrapper\n")

    def test_boot_without_channel_prints_result(self):
        path = self.files.write("standalone.py", self.SOURCE)
        r = harness.run_child(["-m", "hero_tracing.boot", path, "--input", '{"n": 3}',
                               "--name", "standalone"], channel=False)
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertTrue(r.stdout.endswith('{"n":3}\n'), r.stdout)

    def test_bad_fd_falls_back_to_standalone(self):
        r = harness.run_child(["-c", "from hero_tracing import flow; print(flow.active)"],
                              channel=False, env={"HERO_FLOW_SPAN_FD": "97"})
        self.assertEqual(r.rc, 0)
        self.assertEqual(r.stdout, "False\n")
        self.assertIn("HERO_FLOW_SPAN_FD", r.stderr)


class ChannelTest(SdkTestBase):
    def test_sock_path_connects(self):
        import socket
        import threading
        path = os.path.join(self.files.dir, "span.sock")
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        srv.listen(1)
        got = []

        def accept():
            c, _ = srv.accept()
            data = b""
            while True:
                b = c.recv(65536)
                if not b:
                    break
                data += b
            c.close()
            got.append(data)
        t = threading.Thread(target=accept)
        t.start()
        src = self.files.write("f.py", """
            from hero_tracing import flow
            @flow
            def f():
                with flow.step("via_sock"):
                    pass
        """)
        r = harness.run_child(["-m", "hero_tracing.boot", src], channel=False,
                              env={"HERO_FLOW_SPAN_SOCK": path})
        t.join(10)
        srv.close()
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertIn(b'"name":"via_sock"', got[0])

    def test_env_is_not_inherited_by_subprocesses(self):
        r = self.boot("""
            import os, subprocess, sys
            from hero_tracing import flow
            @flow
            def f():
                out = subprocess.run([sys.executable, "-c",
                    "import os; print(os.environ.get('HERO_FLOW_SPAN_FD'))"],
                    capture_output=True, text=True).stdout
                return out.strip()
        """)
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertEqual(r.result(), "None")

    def test_live_flush_while_a_leaf_sleeps(self):
        r = self.boot("""
            import time
            from hero_tracing import flow
            @flow
            def f():
                with flow.step("outer"):
                    with flow.step("sleepy"):
                        time.sleep(0.5)
        """)
        self.assertEqual(r.rc, 0, r.stderr)
        t_start = [t for t, e in r.arrivals
                   if e["type"] == "span_start" and e["name"] == "sleepy"][0]
        t_end = [t for t, e in r.arrivals if e["type"] == "span_end"][0]
        # The start arrived well before the leaf finished sleeping.
        self.assertGreater(t_end - t_start, 0.3)

    def test_printed_lines_are_live_and_batched(self):
        # Issue 15: printed lines are held and sent as one span_log per batch, but a line
        # printed before a long wait still arrives within the flusher's tick, not at the end.
        r = self.boot("""
            import sys, time
            from hero_tracing import flow
            @flow
            def f():
                with flow.step("work"):
                    for i in range(3):
                        print(f"line {i}")
                    time.sleep(0.5)
                    print("after", file=sys.stderr)
                    for i in range(3000):
                        print(f"bulk {i}")
        """)
        self.assertEqual(r.rc, 0, r.stderr)
        logs = [(t, e) for t, e in r.arrivals if e["type"] == "span_log"]
        first_t, first = logs[0]
        self.assertEqual(first["text"], "line 0\nline 1\nline 2\n")
        t_end = [t for t, e in r.arrivals if e["type"] == "span_end"][0]
        self.assertGreater(t_end - first_t, 0.3)
        # Order across streams is kept; 3,000 lines are a few events, not 3,000.
        self.assertEqual(logs[1][1]["stream"], "stderr")
        bulk = [e for _, e in logs if e["text"].startswith("bulk")]
        self.assertLess(len(bulk), 10)
        self.assertEqual("".join(e["text"] for e in bulk),
                         "".join("bulk %d\n" % i for i in range(3000)))

    def test_fork_child_spans_use_prefixed_ids(self):
        r = self.boot("""
            import os
            from hero_tracing import flow
            import hero_tracing
            @flow
            def f():
                with flow.step("parent_step"):
                    pid = os.fork()
                    if pid == 0:
                        with flow.step("in_child"):
                            pass
                        hero_tracing.flush()
                        os._exit(0)
                    os.waitpid(pid, 0)
        """)
        self.assertEqual(r.rc, 0, r.stderr)
        child = r.span("in_child")
        self.assertTrue(child["id"].startswith("p"), child)
        self.assertParent(r, "in_child", "parent_step")


if __name__ == "__main__":
    unittest.main()
