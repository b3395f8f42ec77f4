#include "supervisor/core/script_answer.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>

namespace hero::core {
namespace {

const char* kNetworkTraceback =
    R"(Traceback (most recent call last):
  File "/usr/lib/python3.11/urllib/request.py", line 1348, in do_open
    h.request(req.get_method(), req.selector, req.data, headers,
  File "/usr/lib/python3.11/http/client.py", line 1294, in request
    self._send_request(method, url, body, headers, encode_chunked)
  File "/usr/lib/python3.11/http/client.py", line 1340, in _send_request
    self.endheaders(body, encode_chunked=encode_chunked)
  File "/usr/lib/python3.11/socket.py", line 962, in getaddrinfo
    for res in _socket.getaddrinfo(host, port, family, type, proto, flags):
               ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
socket.gaierror: [Errno -3] Temporary failure in name resolution

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "script.py", line 12, in <module>
    main()
  File "script.py", line 4, in fetch
    with urllib.request.urlopen(url, timeout=5) as r:
         ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/usr/lib/python3.11/urllib/request.py", line 216, in urlopen
    return opener.open(url, data, timeout)
  File "/usr/lib/python3.11/urllib/request.py", line 519, in open
    response = self._open(req, data)
  File "/usr/lib/python3.11/urllib/request.py", line 1351, in do_open
    raise URLError(err)
urllib.error.URLError: <urlopen error [Errno -3] Temporary failure in name resolution>)";

TEST(ScriptAnswerTest, InnermostScriptFrameOfTheLastException) {
  TracebackView v = ReadTraceback(kNetworkTraceback, "script.py");
  ASSERT_TRUE(v.has_user_frame);
  EXPECT_EQ(v.user_frame.file, "script.py");
  EXPECT_EQ(v.user_frame.line, 4);
  EXPECT_EQ(v.user_frame.function, "fetch");
  EXPECT_EQ(v.user_frame.source_line, "with urllib.request.urlopen(url, timeout=5) as r:");
}

TEST(ScriptAnswerTest, LibraryMiddleIsElidedScriptFramesAndInnermostKept) {
  TracebackView v = ReadTraceback(kNetworkTraceback, "script.py");
  // First section: 3 library frames elided, the innermost (socket.getaddrinfo) kept.
  EXPECT_NE(v.shortened.find("  … 3 frames in urllib, http\n  File \"/usr/lib/python3.11/"
                             "socket.py\", line 962, in getaddrinfo"),
            std::string::npos)
      << v.shortened;
  // Second section: the script's frames kept, 2 library frames elided, the raise kept.
  EXPECT_NE(v.shortened.find("line 12, in <module>"), std::string::npos);
  EXPECT_NE(v.shortened.find("  … 2 frames in urllib\n  File \"/usr/lib/python3.11/urllib/"
                             "request.py\", line 1351, in do_open\n    raise URLError(err)"),
            std::string::npos)
      << v.shortened;
  EXPECT_EQ(v.shortened.find("line 216, in urlopen"), std::string::npos);
  EXPECT_TRUE(v.shortened.ends_with("Temporary failure in name resolution>"));
}

TEST(ScriptAnswerTest, SyntaxErrorLocationHasCaret) {
  TracebackView v = ReadTraceback(
      "  File \"script.py\", line 13\n    print(\"a\"\n         ^\nSyntaxError: '(' was never "
      "closed\n",
      "script.py");
  ASSERT_TRUE(v.has_user_frame);
  EXPECT_EQ(v.user_frame.line, 13);
  EXPECT_EQ(v.user_frame.function, "");
  EXPECT_EQ(v.user_frame.source_line, "print(\"a\"");
  EXPECT_EQ(v.user_frame.caret, "     ^");
}

TEST(ScriptAnswerTest, HostileTracebackTextIsBounded) {
  std::string tb;
  for (int i = 0; i < 5000; ++i)
    tb += "  File \"script.py\", line " + std::to_string(i) + ", in f\n    f()\n";
  tb += "  File \"script.py\", line 99999999999999999999999, in g\n  File \"x\n";
  TracebackView v = ReadTraceback(tb, "script.py");
  EXPECT_LE(v.shortened.size(), (8u << 10) + 8);
  EXPECT_TRUE(v.has_user_frame);
}

store::RunRecord Failed(std::string reason = "exit code 1") {
  store::RunRecord r;
  r.id = RunId{7};
  r.status = RunStatus::kFailed;
  r.reason = std::move(reason);
  r.exit_code = 1;
  r.profile = "untrusted";
  return r;
}

TEST(ScriptAnswerTest, HintsNameTheSandboxCause) {
  std::vector<std::string> mods = {"requests", "yaml"};
  store::RunRecord r = Failed();
  EXPECT_EQ(HintFor(r, "urllib.error.URLError", "<urlopen error>", kNetworkTraceback, mods).code,
            "network_disabled");
  r.network = true;  // the operator allowed it: DNS failing is not the sandbox's doing
  EXPECT_EQ(HintFor(r, "urllib.error.URLError", "<urlopen error>", kNetworkTraceback, mods).code,
            "");
  r.network = false;
  Hint h = HintFor(r, "ModuleNotFoundError", "No module named 'pandas.core'", "", mods);
  EXPECT_EQ(h.code, "module_not_installed");
  EXPECT_EQ(h.text,
            "pandas is not installed in the sandbox; the standard library and these modules "
            "are available: requests, yaml");
  h = HintFor(r, "FileNotFoundError", "[Errno 2] No such file or directory: 'data.csv'", "", mods);
  EXPECT_EQ(h.code, "path_not_found");
  EXPECT_NE(h.text.find("'data.csv'"), std::string::npos);
  h = HintFor(r, "OSError", "[Errno 30] Read-only file system: '/usr/x'", "", mods);
  EXPECT_EQ(h.code, "path_not_writable");
  EXPECT_EQ(HintFor(r, "ValueError", "bad", "", mods).code, "");

  store::RunRecord k = Failed("memory limit 2 GiB exceeded");
  k.status = RunStatus::kKilled;
  h = HintFor(k, "MemoryError", "", "", mods);
  EXPECT_EQ(h.code, "memory_limit");
  EXPECT_NE(h.text.find("2 GiB"), std::string::npos);
  k.reason = "file size limit 64 MiB exceeded";
  h = HintFor(k, "", "", "", mods);
  EXPECT_EQ(h.code, "file_size_limit");
  EXPECT_NE(h.text.find("file size limit 64 MiB (set by the operator)"), std::string::npos);
  k.reason = "blocked syscall ptrace";
  EXPECT_EQ(HintFor(k, "", "", "", mods).code, "blocked_syscall");
  k.reason = "CPU limit 4 s exceeded";
  EXPECT_EQ(HintFor(k, "", "", "", mods).code, "cpu_limit");
  k.reason = "process limit 64 reached";
  EXPECT_EQ(HintFor(k, "", "", "", mods).code, "process_limit");
  store::RunRecord t = Failed("wall-clock timeout 1.5 s");
  t.status = RunStatus::kTimedOut;
  h = HintFor(t, "", "", "", mods);
  EXPECT_EQ(h.code, "timeout");
  EXPECT_NE(h.text.find("the 1.5 s wall-clock limit"), std::string::npos) << h.text;
  EXPECT_NE(h.text.find("timeout_ms"), std::string::npos);
}

TEST(ScriptAnswerTest, EveryHintCodeIsInTheSchemaEnum) {
  std::string schema = ScriptAnswerSchemaJson();
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  ASSERT_FALSE(p.parse(schema).get(doc));
  for (std::string_view code : HintCodes())
    EXPECT_NE(schema.find("\"" + std::string(code) + "\""), std::string::npos) << code;
}

store::SpanRow Span(int64_t seq, std::string id, std::string parent, std::string name,
                    std::string status = "ok") {
  store::SpanRow s;
  s.seq = SpanSeq{seq};
  s.span_id = std::move(id);
  s.parent_id = std::move(parent);
  s.name = std::move(name);
  s.kind = s.parent_id.empty() ? "flow_root" : "step";
  s.status = std::move(status);
  s.start_us = 1000 + seq;
  s.end_us = 2000 + seq;
  s.file = "script.py";
  return s;
}

store::LogRow Log(int64_t seq, std::string stream, std::string text) {
  store::LogRow l;
  l.span_seq = SpanSeq{seq};
  l.stream = std::move(stream);
  l.text = std::move(text);
  return l;
}

TEST(ScriptAnswerTest, OutputIsMergedAcrossSpansInOrderWithoutTheBootLine) {
  store::RunRecord r = Failed();
  std::vector<store::SpanRow> spans = {Span(0, "1", "", "flow", "failed"), Span(1, "2", "1", "a"),
                                       Span(2, "3", "1", "b", "failed")};
  spans[2].error_type = "KeyError";
  spans[2].error = "'x'";
  std::vector<store::LogRow> logs = {
      Log(1, "stdout", "one\n"), Log(2, "stdout", "two\n"), Log(2, "stderr", "warn\n"),
      Log(0, "stderr", "hero_tracing.boot: flow failed: KeyError in step 'b': 'x'\n")};
  std::string a = BuildScriptAnswer(r, spans, logs, AnswerLimits{});
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  ASSERT_FALSE(p.parse(a).get(doc)) << a;
  EXPECT_EQ(std::string_view(doc["stdout"].get_string()), "one\ntwo\n");
  EXPECT_EQ(std::string_view(doc["stderr"].get_string()), "warn\n");
  EXPECT_EQ(std::string_view(doc["failure"]["path"].get_string()), "flow/b");
  EXPECT_EQ(std::string_view(doc["failure"]["log_tail"].get_string()), "two\nwarn");
  EXPECT_EQ(std::string_view(doc["ui"].get_string()), "/#/runs/7");
}

TEST(ScriptAnswerTest, AnswerStaysWithinItsBoundWhateverTheRunHolds) {
  store::RunRecord r = Failed();
  r.span_count = 2001;
  r.output_json = "\"" + std::string(200 << 10, 'o') + "\"";
  std::vector<store::SpanRow> spans = {Span(0, "1", "", "flow", "failed")};
  std::vector<store::LogRow> logs;
  for (int i = 1; i <= 2000; ++i) {
    spans.push_back(Span(i, std::to_string(i + 1), "1", "step-" + std::to_string(i),
                         i == 1500 ? "failed" : "ok"));
    spans.back().traceback = std::string(5000, 't');
    for (int j = 0; j < 20; ++j) logs.push_back(Log(i, "stdout", std::string(300, 'x') + "\n"));
  }
  AnswerLimits lim;
  lim.max_answer_bytes = 64 << 10;
  lim.max_output_bytes = 8 << 10;
  std::string a = BuildScriptAnswer(r, spans, logs, lim);
  EXPECT_LE(a.size(), static_cast<size_t>(lim.max_answer_bytes));
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  ASSERT_FALSE(p.parse(a).get(doc));
  EXPECT_TRUE(bool(doc["stdout_truncated"].get_bool()));
  EXPECT_LE(std::string_view(doc["stdout"].get_string()).size(), 8u << 10);
  EXPECT_EQ(int64_t(doc["tree_truncated"]["spans_total"].get_int64()), 2001);
  EXPECT_LT(int64_t(doc["tree_truncated"]["spans_shown"].get_int64()), 2001);
  EXPECT_TRUE(bool(doc["output"]["truncated"].get_bool()));
  // The failed step is still in the tree (its path is kept when spans give way).
  EXPECT_EQ(std::string_view(doc["failure"]["span"].get_string()), "step-1500");
  EXPECT_NE(a.find("\"name\":\"step-1500\""), std::string::npos);
}

TEST(ScriptAnswerTest, OutputTailKeepsLastLines) {
  store::RunRecord r = Failed();
  r.status = RunStatus::kOk;
  std::vector<store::SpanRow> spans = {Span(0, "1", "", "script.py")};
  std::vector<store::LogRow> logs;
  for (int i = 0; i < 1000; ++i) logs.push_back(Log(0, "stdout", std::to_string(i) + "\n"));
  AnswerLimits lim;
  lim.max_output_lines = 3;
  std::string a = BuildScriptAnswer(r, spans, logs, lim);
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  ASSERT_FALSE(p.parse(a).get(doc));
  EXPECT_EQ(std::string_view(doc["stdout"].get_string()), "997\n998\n999\n");
  EXPECT_TRUE(bool(doc["stdout_truncated"].get_bool()));
  EXPECT_TRUE(doc["failure"].is_null());
}

}  // namespace
}  // namespace hero::core
