"""inspect_flow: @flow declarations read with `ast`, never executing the file."""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


class InspectFlowTest(unittest.TestCase):
    def setUp(self):
        self.files = harness.FlowFiles()

    def tearDown(self):
        self.files.cleanup()

    def inspect(self, source):
        path = self.files.write("f.py", source)
        r = harness.run_child(["-m", "hero_tracing.inspect_flow", path], channel=False)
        return r.rc, json.loads(r.stdout), r

    def test_declarations(self):
        rc, out, _ = self.inspect('''
            import typing
            from hero_tracing import flow
            import hero_tracing as ht
            raise SystemExit("inspect_flow must not execute the file")

            @flow(name="summarize", description="Fetch a page and summarize it",
                  inputs={"url": str, "max_words": int, "langs": typing.List[str]},
                  outputs={"summary": str}, tags=("web", "text"))
            def summarize(url, max_words=100, langs=()):
                """Summarizes a page.

                Longer text."""
                with flow.step("x"):
                    pass

            @flow
            def bare(a: int, b: "str" = "x", *, c=None):
                pass

            @ht.flow("positional_name")
            async def third():
                "doc"

            @flow.step("not a flow")
            def helper():
                pass
        ''')
        self.assertEqual(rc, 0)
        flows = out["flows"]
        self.assertEqual([f["name"] for f in flows], ["summarize", "bare", "positional_name"])
        s = flows[0]
        self.assertEqual(s["description"], "Fetch a page and summarize it")
        self.assertEqual(s["docstring"], "Summarizes a page.\n\nLonger text.")
        self.assertEqual(s["inputs"], {"url": "str", "max_words": "int", "langs": "List[str]"})
        self.assertEqual(s["outputs"], {"summary": "str"})
        self.assertEqual(s["tags"], ["web", "text"])
        self.assertEqual(s["required"], ["url"])
        self.assertEqual(s["line"], 6)   # the decorator line, like co_firstlineno
        b = flows[1]
        self.assertEqual(b["inputs"], {"a": "int", "b": "str", "c": "object"})
        self.assertEqual(b["description"], "")
        self.assertIsNone(b["docstring"])
        self.assertEqual(b["outputs"], {})
        self.assertEqual(b["tags"], [])
        self.assertEqual(b["required"], ["a"])
        self.assertEqual(flows[2]["docstring"], "doc")
        self.assertTrue(flows[2]["async"])

    def test_line_matches_runtime_root_span(self):
        src = '''
            from hero_tracing import flow

            @flow(name="f",
                  inputs={"x": int})
            def f(x=1):
                return x
        '''
        rc, out, _ = self.inspect(src)
        run = harness.run_boot(self.files, src)
        self.assertEqual(out["flows"][0]["line"], run.root()["line"])

    def test_no_flows(self):
        rc, out, _ = self.inspect("print('plain')\n")
        self.assertEqual((rc, out), (0, {"flows": []}))

    def test_syntax_error(self):
        rc, out, _ = self.inspect("def broken(:\n    pass\n")
        self.assertEqual(rc, 2)
        self.assertIn("f.py:1", out["error"])


if __name__ == "__main__":
    unittest.main()
