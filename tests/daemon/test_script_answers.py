"""script_run as an LLM agent uses it (issue 15): a table of realistic LLM-written scripts, each
run through a real daemon, each asserting the fields of the answer an agent reads to fix its
script in one more try: status and reason, the script's own failing line, the hint when the
sandbox caused the failure, the printed output, the run facts, and the answer's bound."""
import json
import os
import tempfile
import textwrap
import unittest

from daemon_harness import Daemon, RpcError

MAX_ANSWER = 256 * 1024


def src(text):
    return textwrap.dedent(text).lstrip("\n")


# Each case: name -> (source, params, check(test, answer)). Sources are what an LLM writes:
# helpers, f-strings, `if __name__ == "__main__":`, flows with steps.

def check_plain_ok(t, a):
    t.assertEqual(a["status"], "ok")
    t.assertEqual(a["reason"], "ok")
    t.assertIsNone(a["failure"])
    t.assertEqual(a["stdout"], "total: 6\naverage: 2.00\n")
    t.assertFalse(a["stdout_truncated"])
    t.assertEqual(a["stdout_dropped_bytes"], 0)
    t.assertEqual(a["exit_code"], 0)
    t.assertIsNone(a["output"])  # a plain script has no return value
    t.assertEqual(a["profile"], "untrusted")
    t.assertEqual(a["ui"], "/#/runs/%d" % a["run_id"])
    t.assertGreaterEqual(a["duration_ms"], 0)
    t.assertGreater(a["peak_rss_bytes"], 0)
    t.assertIsNone(a["tree_truncated"])


def check_flow_ok(t, a):
    t.assertEqual(a["status"], "ok")
    t.assertEqual(a["output"], {"words": 4, "longest": "quick"})
    # Printed output merged in order across steps, as text.
    t.assertEqual(a["stdout"], "loading 2 lines\ncounted 4 words\nlongest: quick\n")
    names = [c["name"] for c in a["tree"]["children"]]
    t.assertEqual(names, ["load", "count", "report"])


def check_helper_exception(t, a):
    t.assertEqual(a["status"], "failed")
    f = a["failure"]
    t.assertEqual(f["error_type"], "ValueError")
    t.assertIn("could not convert string to float: 'n/a'", f["error"])
    # The script's own innermost frame, not main() or the stdlib.
    t.assertEqual(f["function"], "parse_price")
    t.assertEqual(f["line"], 4)
    t.assertEqual(f["source_line"], "return float(text.strip().lstrip(\"$\"))")
    t.assertIn("line 4, in parse_price", f["traceback"])
    t.assertIsNone(f["hint_code"])
    # What it printed before failing, at top level and as the failure's log tail.
    t.assertEqual(a["stdout"], "row 1: 3.5\nrow 2: 4.25\n")
    t.assertTrue(f["log_tail"].endswith("row 2: 4.25"), f["log_tail"])
    # The boot module's own summary line is not passed off as the script's stderr.
    t.assertNotIn("hero_tracing.boot", a["stderr"])
    t.assertNotIn("hero_tracing.boot", f["log_tail"])


def check_sys_exit(t, a):
    t.assertEqual(a["status"], "failed")
    t.assertEqual(a["reason"], "the script exited with code 3")
    t.assertEqual(a["exit_code"], 3)
    t.assertEqual(a["stderr"], "config missing, giving up\n")


def check_os_exit(code):
    def check(t, a):
        # Regression: os._exit(3/4/5) was reported "killed: memory/file size/process limit".
        t.assertEqual(a["status"], "failed")
        t.assertEqual(a["reason"], "the script exited with code %d" % code)
        t.assertEqual(a["exit_code"], code)
        t.assertIsNone(a["failure"]["hint_code"])
        step = a["tree"]["children"][-1]
        t.assertEqual(step["name"], "upload")
        t.assertEqual(step["status"], "failed")
        t.assertEqual(step["error"], "process exited with code %d" % code)
        t.assertEqual(a["failure"]["path"], "sync/upload")
    return check


def check_syntax(t, a):
    t.assertEqual(a["status"], "failed")
    t.assertEqual(a["reason"], "syntax error at line 5: '(' was never closed")
    t.assertNotIn("invalid flow or input", a["reason"])
    f = a["failure"]
    t.assertEqual(f["error_type"], "SyntaxError")
    t.assertEqual(f["line"], 5)
    t.assertEqual(f["source_line"], 'print(f"sum = {total}"')
    t.assertEqual(f["offset"], 6)
    t.assertEqual(f["source_caret"], 'print(f"sum = {total}"\n     ^')


def check_pandas(t, a):
    f = a["failure"]
    t.assertEqual(f["error_type"], "ModuleNotFoundError")
    t.assertEqual(f["hint_code"], "module_not_installed")
    t.assertTrue(f["hint"].startswith("pandas is not installed in the sandbox; the standard "
                                      "library"), f["hint"])
    t.assertEqual(f["line"], 1)
    t.assertEqual(f["source_line"], "import pandas as pd")


def check_missing_file(t, a):
    f = a["failure"]
    t.assertEqual(f["error_type"], "FileNotFoundError")
    t.assertEqual(f["hint_code"], "path_not_found")
    t.assertIn("'sales.csv'", f["hint"])
    t.assertEqual(f["function"], "load_rows")
    t.assertEqual(f["source_line"], 'with open(path, newline="") as fh:')


def check_write_outside(t, a):
    f = a["failure"]
    t.assertEqual(f["hint_code"], "path_not_writable")
    t.assertIn("'/usr/report.txt'", f["hint"])
    t.assertIn("/tmp", f["hint"])
    t.assertEqual(f["function"], "save")


def check_network(t, a):
    f = a["failure"]
    t.assertEqual(a["status"], "failed")
    t.assertEqual(f["hint_code"], "network_disabled")
    t.assertIn("pass network: true", f["hint"])
    t.assertEqual(f["function"], "fetch_json")
    t.assertEqual(f["source_line"], "with urllib.request.urlopen(url, timeout=5) as resp:")
    # The library middle is elided, the script's frames kept.
    t.assertRegex(f["traceback"], r"… \d+ frames in urllib")
    t.assertIn('line 10, in main', f["traceback"])
    t.assertLess(f["traceback"].count("urllib/request.py"), 3)


def check_timeout(t, a):
    t.assertEqual(a["status"], "timed_out")
    t.assertEqual(a["failure"]["hint_code"], "timeout")
    t.assertIn("timeout_ms", a["failure"]["hint"])
    t.assertIn("polling", a["stdout"])


def check_memory(t, a):
    t.assertEqual(a["status"], "killed")
    t.assertEqual(a["reason"], "memory limit 2 GiB exceeded")
    f = a["failure"]
    t.assertEqual(f["hint_code"], "memory_limit")
    t.assertIn("2 GiB", f["hint"])
    t.assertEqual(f["function"], "build_matrix")
    t.assertEqual(f["error_type"], "MemoryError")
    # Root span and run agree.
    t.assertEqual(a["tree"]["status"], "killed")


def check_threads(t, a):
    t.assertEqual(a["status"], "killed")
    t.assertEqual(a["reason"], "process limit 64 reached")
    t.assertEqual(a["failure"]["hint_code"], "process_limit")
    t.assertEqual(a["tree"]["status"], "killed")


def check_third_step(t, a):
    t.assertEqual(a["status"], "failed")
    f = a["failure"]
    t.assertEqual(f["path"], "report/summarize")
    t.assertEqual(f["error_type"], "KeyError")
    t.assertEqual(f["function"], "summarize")
    t.assertEqual(f["source_line"], 'return {"top": by_region["north"]}')
    t.assertEqual(a["stdout"], "fetched 3 orders\ngrouped into 2 regions\n")
    t.assertEqual([c["status"] for c in a["tree"]["children"]], ["ok", "ok", "failed"])


def check_stderr(t, a):
    t.assertEqual(a["status"], "ok")
    t.assertEqual(a["stdout"], "result: 42\n")
    t.assertEqual(a["stderr"], "warning: cache is cold\n")


def check_output_bound(t, a):
    t.assertEqual(a["status"], "ok")
    t.assertTrue(a["stdout_truncated"])
    t.assertLessEqual(len(a["stdout"].encode()), 1024)
    t.assertTrue(a["stdout"].endswith("line 4999: ok\n"), a["stdout"][-80:])
    total = sum(len(("line %d: ok\n" % i).encode()) for i in range(5000))
    t.assertEqual(a["stdout_dropped_bytes"], total - len(a["stdout"].encode()))


def check_many_spans(t, a):
    t.assertEqual(a["status"], "ok")
    t.assertIsNotNone(a["tree_truncated"])
    t.assertEqual(a["tree_truncated"]["spans_total"], 1201)
    t.assertLess(a["tree_truncated"]["spans_shown"], 1201)
    t.assertTrue(a["stdout"].endswith("item 1199 done\n"))


CASES = {
    "plain_ok": (src('''
        def summarize(values):
            total = sum(values)
            return total, total / len(values)

        if __name__ == "__main__":
            total, avg = summarize([1, 2, 3])
            print(f"total: {total}")
            print(f"average: {avg:.2f}")
        '''), {}, check_plain_ok),
    "flow_ok": (src('''
        from hero_tracing import flow

        TEXT = "the quick brown fox"

        @flow
        def word_stats():
            with flow.step("load"):
                lines = [TEXT, ""]
                print(f"loading {len(lines)} lines")
            with flow.step("count"):
                words = TEXT.split()
                print(f"counted {len(words)} words")
            with flow.step("report"):
                longest = max(words, key=len)
                print(f"longest: {longest}")
            return {"words": len(words), "longest": longest}
        '''), {}, check_flow_ok),
    "helper_exception": (src('''
        import csv, io

        def parse_price(text):
            return float(text.strip().lstrip("$"))

        def main():
            data = "item,price\\napple,$3.5\\npear,4.25\\nplum,n/a\\n"
            for i, row in enumerate(csv.DictReader(io.StringIO(data)), 1):
                print(f"row {i}: {parse_price(row['price'])}")

        if __name__ == "__main__":
            main()
        '''), {}, check_helper_exception),
    "sys_exit": (src('''
        import os, sys

        def load_config(path):
            if not os.path.exists(path):
                print("config missing, giving up", file=sys.stderr)
                sys.exit(3)

        if __name__ == "__main__":
            load_config("settings.toml")
        '''), {}, check_sys_exit),
}

for _code in (3, 4, 5):
    CASES["os_exit_%d" % _code] = (src('''
        import os, time
        from hero_tracing import flow

        @flow
        def sync():
            with flow.step("download"):
                print("downloaded 3 files")
            with flow.step("upload"):
                time.sleep(0.1)  # the SDK sends spans within 10 ms; os._exit skips the flush
                os._exit(%d)
        ''' % _code), {}, check_os_exit(_code))

CASES.update({
    "syntax_error": (src('''
        def add(a, b):
            return a + b

        total = add(2, 3)
        print(f"sum = {total}"
        '''), {}, check_syntax),
    "import_pandas": (src('''
        import pandas as pd

        def main():
            df = pd.DataFrame({"a": [1, 2]})
            print(df.describe())

        if __name__ == "__main__":
            main()
        '''), {}, check_pandas),
    "missing_file": (src('''
        import csv

        def load_rows(path):
            with open(path, newline="") as fh:
                return list(csv.DictReader(fh))

        if __name__ == "__main__":
            rows = load_rows("sales.csv")
            print(f"{len(rows)} rows")
        '''), {}, check_missing_file),
    "write_outside": (src('''
        def save(text, path="/usr/report.txt"):
            with open(path, "w") as fh:
                fh.write(text)

        if __name__ == "__main__":
            save("all good\\n")
        '''), {}, check_write_outside),
    "network": (src('''
        import json
        import urllib.request

        def fetch_json(url):
            with urllib.request.urlopen(url, timeout=5) as resp:
                return json.load(resp)

        def main():
            repo = "python/cpython"
            data = fetch_json(f"https://api.github.com/repos/{repo}")
            print(f"{repo}: {data['stargazers_count']} stars")

        if __name__ == "__main__":
            main()
        '''), {}, check_network),
    "infinite_loop": (src('''
        import time

        def wait_for_job():
            print("polling", flush=True)
            while True:
                time.sleep(0.05)

        if __name__ == "__main__":
            wait_for_job()
        '''), {"timeout_ms": 1500}, check_timeout),
    "memory_4g": (src('''
        def build_matrix(n):
            return bytearray(n)

        if __name__ == "__main__":
            m = build_matrix(4 * 1024 ** 3)
            print(len(m))
        '''), {}, check_memory),
    "too_many_threads": (src('''
        import threading, time

        def worker(i):
            time.sleep(2)

        if __name__ == "__main__":
            threads = [threading.Thread(target=worker, args=(i,)) for i in range(500)]
            for t in threads:
                t.start()
        '''), {}, check_threads),
    "third_step_fails": (src('''
        from collections import defaultdict
        from hero_tracing import flow

        ORDERS = [("south", 10), ("south", 5), ("east", 7)]

        @flow.step
        def fetch():
            print(f"fetched {len(ORDERS)} orders")
            return ORDERS

        @flow.step
        def group(orders):
            by_region = defaultdict(int)
            for region, amount in orders:
                by_region[region] += amount
            print(f"grouped into {len(by_region)} regions")
            return dict(by_region)

        @flow.step
        def summarize(by_region):
            return {"top": by_region["north"]}

        @flow
        def report():
            return summarize(group(fetch()))
        '''), {}, check_third_step),
    "stderr_warning": (src('''
        import sys

        def compute():
            print("warning: cache is cold", file=sys.stderr)
            return 42

        if __name__ == "__main__":
            print(f"result: {compute()}")
        '''), {}, check_stderr),
    "output_bound": (src('''
        def main():
            for i in range(5000):
                print(f"line {i}: ok")

        if __name__ == "__main__":
            main()
        '''), {"max_output_bytes": 1024}, check_output_bound),
    "many_spans": (src('''
        from hero_tracing import flow

        @flow
        def batch():
            for i in range(1200):
                with flow.step(f"item-{i}"):
                    print(f"item {i} done")
        '''), {"max_answer_bytes": 72 * 1024}, check_many_spans),
})


class ScriptAnswerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="hero_answers_")
        cls.d = Daemon(os.path.join(cls.tmp.name, "data"), "--concurrency", "2")
        if not cls.d.call("rpc.discover") or not cls._untrusted():
            raise unittest.SkipTest("untrusted profile unavailable")

    @classmethod
    def _untrusted(cls):
        _, body = cls.d.http("GET", "/healthz")
        return json.loads(body)["backend"].get("untrusted_available", False)

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.tmp.cleanup()

    def run_case(self, name):
        source, params, check = CASES[name]
        answer = self.d.call("script_run", _timeout=90,
                             **dict({"source": source, "timeout_ms": 20000}, **params))
        size = len(json.dumps(answer).encode())
        self.assertLessEqual(size, params.get("max_answer_bytes", MAX_ANSWER))
        try:
            check(self, answer)
        except AssertionError:
            tree = answer.pop("tree", None)
            print("\n--- %s answer (tree root status %s):\n%s" % (
                name, tree and tree.get("status"), json.dumps(answer, indent=1)[:4000]))
            raise

    def test_at_least_fifteen_cases(self):
        self.assertGreaterEqual(len(CASES), 15)

    def test_printer_200mb_answer_is_bounded(self):
        source = src('''
            import sys

            def main():
                line = "x" * 1023 + "\\n"
                for i in range(200 * 1024):
                    sys.stdout.write(line)
                print("the end")

            if __name__ == "__main__":
                main()
            ''')
        a = self.d.call("script_run", _timeout=180, source=source, timeout_ms=120000)
        self.assertLessEqual(len(json.dumps(a).encode()), MAX_ANSWER)
        self.assertEqual(a["status"], "ok")
        self.assertTrue(a["stdout_truncated"])
        self.assertLessEqual(len(a["stdout"].encode()), 32 * 1024)
        # The true end of the output, although the log cap dropped the middle.
        self.assertTrue(a["stdout"].endswith("x\nthe end\n"), a["stdout"][-100:])
        # The run's log cap (64 MiB) dropped most of it; the answer says so.
        self.assertGreater(a["dropped"]["log_bytes"], 100 * 1024 * 1024)
        self.assertIsNotNone(a["tree_truncated"])
        self.assertGreater(a["tree"]["logs_omitted"], 1000)

    def test_bad_bounds_are_refused(self):
        for params in ({"max_output_bytes": 10}, {"max_output_bytes": 2 << 20},
                       {"max_answer_bytes": 1000},
                       {"max_output_bytes": 1 << 20, "max_answer_bytes": 1 << 20}):
            with self.assertRaises(RpcError) as cm:
                self.d.call("script_run", source="print(1)", **params)
            self.assertEqual(cm.exception.code, -32010, params)  # INVALID_ARGUMENT
            self.assertIn("max_", cm.exception.message)

    def test_discover_documents_the_answer(self):
        doc = self.d.call("rpc.discover")
        m = next(m for m in doc["methods"] if m["name"] == "script_run")
        props = m["result"]["schema"]["properties"]
        for field in ("stdout", "stderr", "stdout_truncated", "failure", "exit_code", "cpu_ms",
                      "peak_rss_bytes", "duration_ms", "ui", "tree_truncated", "dropped"):
            self.assertIn(field, props)
            self.assertIn("description", props[field])
        codes = props["failure"]["properties"]["hint_code"]["enum"]
        for code in ("network_disabled", "module_not_installed", "path_not_found",
                     "path_not_writable", "memory_limit", "cpu_limit", "timeout",
                     "process_limit", "file_size_limit", "blocked_syscall"):
            self.assertIn(code, codes)
        names = [p["name"] for p in m["params"]]
        self.assertIn("max_output_bytes", names)
        self.assertIn("max_answer_bytes", names)


def _make(name):
    def test(self):
        self.run_case(name)
    test.__name__ = "test_case_" + name
    return test


for _name in CASES:
    setattr(ScriptAnswerTest, "test_case_" + _name, _make(_name))

if __name__ == "__main__":
    unittest.main()
