#!/usr/bin/env python3
"""Writes the span-stream fuzz seed corpus into tests/fuzz/corpus/.

Each file is a 4-byte header (see fuzz_harness.h: limits byte, run byte, split seed) followed
by the bytes a child would write to its span socket. Seeds: every golden fixture
(tests/fixtures/spans/*.ndjson and hand/*) under three headers, plus hand-written abuse cases.
Minimized crash inputs found by the fuzzer are added as corpus/regress-<name> by hand and are
never rewritten here. Run: python3 tests/fuzz/make_corpus.py
"""
import glob
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(HERE, "corpus")

# limits byte: bits 0-1 max_spans {1M, 1, 3, 16}; 2-3 max_line {1 MiB, 16, 256, 4096};
# bit 4 max_tag {64 KiB, 24}; bit 5 max_log {64 MiB, 32}; bit 6 pipe logs.
# run byte: bits 0-1 outcome {exited, timed_out, cancelled, killed}; bit 2 now_us given.
DEFAULT = 0x00
SMALL_CAPS = 0x02 | (2 << 2) | 0x10 | 0x20 | 0x40  # 3 spans, 256 B lines, tiny tags/logs
TINY_LINES = 0x03 | (1 << 2)                         # 16 spans, 16 B lines


def header(limits, run, seed):
    return struct.pack("<BBH", limits, run, seed)


def write(name, limits, run, seed, stream):
    if isinstance(stream, str):
        stream = stream.encode()
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(header(limits, run, seed) + stream)


def line(**kw):
    return json.dumps(kw, separators=(",", ":")) + "\n"


def start(i, parent, name="s", kind="step", ts=1, **kw):
    return line(type="span_start", id=i, parent=parent, name=name, kind=kind, ts=ts, **kw)


def end(i, ts=2, status="ok", **kw):
    return line(type="span_end", id=i, ts=ts, status=status, **kw)


def main():
    os.makedirs(OUT, exist_ok=True)
    for old in glob.glob(os.path.join(OUT, "fixture-*")) + glob.glob(os.path.join(OUT, "abuse-*")):
        os.remove(old)
    fixtures = sorted(glob.glob(os.path.join(ROOT, "tests/fixtures/spans/*.ndjson")))
    fixtures += sorted(glob.glob(os.path.join(ROOT, "tests/fixtures/spans/hand/*")))
    for i, path in enumerate(fixtures):
        base = os.path.splitext(os.path.basename(path))[0]
        with open(path, "rb") as f:
            data = f.read()
        write(f"fixture-{base}", DEFAULT, 0, 4093 + i, data)
        write(f"fixture-{base}-smallcaps", SMALL_CAPS, 1 | 4, 7 + i, data)
        write(f"fixture-{base}-tinylines", TINY_LINES, 3, 1 + i, data)

    root = start("1", None, "root", "flow_root")
    write("abuse-invalid-utf8", DEFAULT, 0, 3,
          root.encode() + b'{"type":"span_log","id":"1","ts":3,"stream":"stdout","text":"\xff\xfe"}\n'
          + b'\xc3\x28\n' + b'{"type":"span_start","id":"\xed\xa0\x80","parent":"1","name":"x","kind":"step","ts":2}\n')
    write("abuse-deep-nesting", DEFAULT, 0, 11,
          root + '{"type":"span_tag","id":"1","tags":{"a":' + "[" * 3000 + "]" * 3000 + "}}\n"
          + "[" * 5000 + "\n")
    write("abuse-partial-last-line", DEFAULT, 2, 5, root + start("2", "1") + '{"type":"span_end","id":"2","ts":9,"status":"ok"}')
    write("abuse-oversize-line", TINY_LINES, 0, 2,
          root + '{"type":"span_log","id":"1","ts":3,"stream":"log","text":"' + "x" * 300 + '"}\n' + end("1"))
    write("abuse-span-flood", SMALL_CAPS, 0, 9,
          root + "".join(start(str(i), "1") + end(str(i)) for i in range(2, 40)))
    write("abuse-parent-cycle", DEFAULT, 1, 13,
          start("a", "b") + start("b", "c") + start("c", "a") + start("d", "d") + start("e", "zz"))
    write("abuse-second-root-and-dup-ids", DEFAULT, 0, 17,
          root + start("2", None, "second", "flow_root") + start("1", None, "renamed", "flow_root")
          + start("2", "1") + end("2") + end("2", status="weird") + end("1"))
    write("abuse-forged-messages", DEFAULT, 0, 19,
          line(type="hello", v=2, sdk="evil", pid=-1) + root
          + line(type="call_result", req=1, result={"x": 1})
          + line(type="result", output={"first": True}) + line(type="result", output=[1, 2])
          + line(type="call", req=1, method="play_run_async", params={"flow": "x"})
          + line(type="call", req=1, method="", params=[]) + end("1"))
    write("abuse-wrong-types", DEFAULT, 0, 23,
          '{"type":"span_start","id":1,"parent":null,"name":"r","kind":"flow_root","ts":1}\n'
          '{"type":"span_start","id":"1","parent":null,"name":"r","kind":"flow_root","ts":1.5}\n'
          '{"type":"span_start","id":"1","parent":null,"name":"r","kind":"flow_root","ts":1e999}\n'
          '{"type":"span_start","id":"1","parent":null,"name":"r","kind":"flow_root","ts":99999999999999999999}\n'
          '{"type":null}\n{}\n"str"\nNaN\n')
    write("abuse-tags-merge", SMALL_CAPS, 0, 29,
          start("1", None, "r", "flow_root", tags={"a": 1, "a": 2})
          + line(type="span_tag", id="1", tags={"b": "x" * 10}) + line(type="span_tag", id="1", tags={"c": "y" * 30})
          + '{"type":"span_tag","id":"1","tags":{"d":1,"d":2,"e":{"f":[1,{}]}}}\n' + end("1"))
    write("abuse-logs-cap", SMALL_CAPS, 0, 31,
          root + "".join(line(type="span_log", id="1", ts=i, stream=s, text="0123456789")
                         for i, s in enumerate(["stdout", "stderr", "log", "weird", "stdout"])) + end("1"))
    write("abuse-crlf-and-blank", DEFAULT, 0, 37,
          root.replace("\n", "\r\n") + "\n\n\r\n   \n" + end("1").replace("\n", " \r\n"))
    write("abuse-end-before-start", DEFAULT, 4, 41,
          start("1", None, "r", "flow_root", ts=1000) + end("1", ts=5) + line(type="span_log", id="9", ts=1, stream="log", text="x"))
    write("abuse-subflow-child-run", DEFAULT, 0, 43,
          root + start("2", "1", "child", "subflow") + start("2", "1", "child", "subflow", child_run_id=77)
          + start("2", "1", "child", "subflow", file="f.py", line=3, rpc_service="svc", rpc_method="m") + end("2") + end("1"))
    write("abuse-forked-ids", DEFAULT, 0, 47,
          root + start("p100.1", "1") + start("p200.1", "1") + start("p100.2", "p100.1") + end("p200.1") + end("p100.2"))
    write("abuse-nul-bytes", TINY_LINES, 0, 53, b"\x00\x00\n{\"type\":\"span_start\x00\"}\n\x00")
    write("abuse-empty", DEFAULT, 0, 0, b"")


if __name__ == "__main__":
    main()
