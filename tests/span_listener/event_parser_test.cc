#include "span_listener/event_parser.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace hero::spans {
namespace {

ParseOutcome ParseLine(std::string_view line, Event* e, std::string* err = nullptr) {
  EventParser p;
  std::string local;
  return p.Parse(line, e, err ? err : &local);
}

TEST(EventParserTest, ParsesHello) {
  Event e;
  ASSERT_EQ(ParseLine(R"({"type":"hello","v":1,"sdk":"0.1.0","pid":4242})", &e), ParseOutcome::kOk);
  EXPECT_EQ(e.type, EventType::kHello);
  EXPECT_EQ(e.v, 1);
  EXPECT_EQ(e.sdk, "0.1.0");
  EXPECT_EQ(e.pid, 4242);
}

TEST(EventParserTest, ParsesSpanStartWithAllFields) {
  Event e;
  ASSERT_EQ(
      ParseLine(R"({"type":"span_start","id":"2","parent":"1","name":"fetch","kind":"rpc",)"
                R"("ts":1764570000000000,"file":"flow.py","line":3,"tags":{ "url" : "http://x" },)"
                R"("rpc_service":"svc","rpc_method":"m","child_run_id":17,"extra":[1]})",
                &e),
      ParseOutcome::kOk);
  EXPECT_EQ(e.type, EventType::kSpanStart);
  EXPECT_EQ(e.id, "2");
  EXPECT_FALSE(e.parent_null);
  EXPECT_EQ(e.parent, "1");
  EXPECT_EQ(e.name, "fetch");
  EXPECT_EQ(e.kind, "rpc");
  EXPECT_EQ(e.ts, 1764570000000000);
  EXPECT_EQ(e.file, "flow.py");
  EXPECT_EQ(e.line, 3);
  EXPECT_EQ(e.tags_json, R"({"url":"http://x"})");
  EXPECT_EQ(e.rpc_service, "svc");
  EXPECT_EQ(e.rpc_method, "m");
  EXPECT_EQ(e.child_run_id, 17);
  EXPECT_TRUE(e.has_file && e.has_line && e.has_rpc_service && e.has_rpc_method &&
              e.has_child_run_id);
}

TEST(EventParserTest, ParsesRootSpanStartWithNullParentAndNoOptionals) {
  Event e;
  ASSERT_EQ(
      ParseLine(
          R"({"type":"span_start","id":"1","parent":null,"name":"r","kind":"flow_root","ts":5})",
          &e),
      ParseOutcome::kOk);
  EXPECT_TRUE(e.parent_null);
  EXPECT_TRUE(e.tags_json.empty());
  EXPECT_FALSE(e.has_file || e.has_line);
}

TEST(EventParserTest, ParsesSpanTagLogEndResultCall) {
  Event e;
  ASSERT_EQ(ParseLine(R"({"type":"span_tag","id":"1","tags":{"words":120}})", &e),
            ParseOutcome::kOk);
  EXPECT_EQ(e.type, EventType::kSpanTag);
  EXPECT_EQ(e.tags_json, R"({"words":120})");

  ASSERT_EQ(ParseLine(R"({"type":"span_log","id":"1","ts":7,"stream":"stdout","text":"hi\n"})", &e),
            ParseOutcome::kOk);
  EXPECT_EQ(e.type, EventType::kSpanLog);
  EXPECT_EQ(e.stream, "stdout");
  EXPECT_EQ(e.text, "hi\n");

  ASSERT_EQ(ParseLine(R"({"type":"span_end","id":"1","ts":9,"status":"failed","error":"boom",)"
                      R"("error_type":"ValueError","traceback":"tb","cpu_us":850,"rss_kb":12})",
                      &e),
            ParseOutcome::kOk);
  EXPECT_EQ(e.type, EventType::kSpanEnd);
  EXPECT_EQ(e.status, "failed");
  EXPECT_EQ(e.error, "boom");
  EXPECT_EQ(e.error_type, "ValueError");
  EXPECT_EQ(e.traceback, "tb");
  EXPECT_TRUE(e.has_cpu && e.has_rss);
  EXPECT_EQ(e.cpu_us, 850);
  EXPECT_EQ(e.rss_kb, 12);

  ASSERT_EQ(ParseLine(R"({"type":"span_end","id":"1","ts":9,"status":"ok"})", &e),
            ParseOutcome::kOk);
  EXPECT_FALSE(e.has_cpu || e.has_rss);
  EXPECT_TRUE(e.error.empty());

  ASSERT_EQ(ParseLine(R"({"type":"result","output":{"summary": [1, 2.5, "x", null, true]}})", &e),
            ParseOutcome::kOk);
  EXPECT_EQ(e.type, EventType::kResult);
  EXPECT_EQ(e.output_json, R"({"summary":[1,2.5,"x",null,true]})");
  ASSERT_EQ(ParseLine(R"({"type":"result","output":null})", &e), ParseOutcome::kOk);
  EXPECT_EQ(e.output_json, "null");

  ASSERT_EQ(ParseLine(R"({"type":"call","req":7,"method":"flow_get","params":{"name":"x"}})", &e),
            ParseOutcome::kOk);
  EXPECT_EQ(e.type, EventType::kCall);
  EXPECT_EQ(e.req, 7);
  EXPECT_EQ(e.method, "flow_get");
  EXPECT_EQ(e.params_json, R"({"name":"x"})");
}

TEST(EventParserTest, ReusedEventIsClearedBetweenLines) {
  EventParser p;
  Event e;
  std::string err;
  ASSERT_EQ(
      p.Parse(
          R"({"type":"span_start","id":"1","parent":"0","name":"n","kind":"step","ts":1,"file":"f.py","tags":{"a":1}})",
          &e, &err),
      ParseOutcome::kOk);
  ASSERT_EQ(
      p.Parse(R"({"type":"span_start","id":"2","parent":null,"name":"m","kind":"step","ts":2})", &e,
              &err),
      ParseOutcome::kOk);
  EXPECT_TRUE(e.file.empty());
  EXPECT_FALSE(e.has_file);
  EXPECT_TRUE(e.tags_json.empty());
  EXPECT_TRUE(e.parent.empty());
}

TEST(EventParserTest, WrongFieldTypesAreMalformed) {
  const char* lines[] = {
      R"({"type":"span_start","id":1,"parent":null,"name":"r","kind":"step","ts":1})",
      R"({"type":"span_start","id":"1","parent":5,"name":"r","kind":"step","ts":1})",
      R"({"type":"span_start","id":"1","parent":null,"name":"r","kind":"step","ts":"1"})",
      R"({"type":"span_start","id":"1","parent":null,"name":"r","kind":"step","ts":1.0})",
      R"({"type":"span_start","id":"1","parent":null,"name":"r","kind":"step","ts":1,"tags":[]})",
      R"({"type":"span_start","id":"1","parent":null,"name":"r","kind":"step","ts":1,"line":"3"})",
      R"({"type":"span_start","id":"1","parent":null,"name":"r","kind":null,"ts":1})",
      R"({"type":"span_tag","id":"1","tags":"a=1"})",
      R"({"type":"span_log","id":"1","ts":1,"stream":"stdout","text":5})",
      R"({"type":"span_end","id":"1","ts":1,"status":"ok","cpu_us":1.5})",
      R"({"type":"span_end","id":"1","ts":1,"status":"ok","error":false})",
      R"({"type":"hello","v":"1","sdk":"x","pid":1})",
      R"({"type":"call","req":1,"method":"m","params":[]})",
      R"({"type":5})",
      R"({"type":"span_end","id":"1","ts":18446744073709551615,"status":"ok"})",
  };
  for (const char* line : lines) {
    Event e;
    std::string err;
    EXPECT_EQ(ParseLine(line, &e, &err), ParseOutcome::kMalformed) << line;
    EXPECT_FALSE(err.empty()) << line;
  }
}

TEST(EventParserTest, MissingRequiredFieldsAreMalformedAndNamed) {
  struct Case {
    const char* line;
    const char* field;
  } cases[] = {
      {R"({"id":"1"})", "type"},
      {R"({"type":"span_start","parent":null,"name":"r","kind":"step","ts":1})", "id"},
      {R"({"type":"span_start","id":"1","name":"r","kind":"step","ts":1})", "parent"},
      {R"({"type":"span_start","id":"1","parent":null,"kind":"step","ts":1})", "name"},
      {R"({"type":"span_start","id":"1","parent":null,"name":"r","ts":1})", "kind"},
      {R"({"type":"span_start","id":"1","parent":null,"name":"r","kind":"step"})", "ts"},
      {R"({"type":"span_tag","id":"1"})", "tags"},
      {R"({"type":"span_log","id":"1","ts":1,"text":"x"})", "stream"},
      {R"({"type":"span_end","id":"1","ts":1})", "status"},
      {R"({"type":"result"})", "output"},
      {R"({"type":"call","req":1,"method":"m"})", "params"},
      {R"({"type":"hello","v":1,"sdk":"x"})", "pid"},
  };
  for (const auto& c : cases) {
    Event e;
    std::string err;
    EXPECT_EQ(ParseLine(c.line, &e, &err), ParseOutcome::kMalformed) << c.line;
    EXPECT_NE(err.find(c.field), std::string::npos) << err;
  }
}

TEST(EventParserTest, NonObjectTopLevelIsMalformed) {
  for (const char* line : {"[1,2]", "\"span_start\"", "42", "null", "true", "", " ", "\r"}) {
    Event e;
    EXPECT_EQ(ParseLine(line, &e), ParseOutcome::kMalformed) << line;
  }
}

TEST(EventParserTest, NonJsonNumbersAreMalformed) {
  for (const char* v : {"NaN", "Infinity", "-Infinity", "1e999", "-1e999", "0x10", "01"}) {
    std::string line = std::string(R"({"type":"result","output":)") + v + "}";
    Event e;
    EXPECT_EQ(ParseLine(line, &e), ParseOutcome::kMalformed) << line;
  }
}

TEST(EventParserTest, HundredThousandDigitIntegerIsRejectedQuickly) {
  std::string digits(100000, '7');
  std::string line =
      R"({"type":"span_start","id":"1","parent":null,"name":"r","kind":"step","ts":)" + digits +
      "}";
  auto start = std::chrono::steady_clock::now();
  Event e;
  EXPECT_EQ(ParseLine(line, &e), ParseOutcome::kMalformed);
  std::string as_output = R"({"type":"result","output":)" + digits + "}";
  ParseOutcome out = ParseLine(as_output, &e);  // a huge number is malformed or a double
  (void)out;
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, std::chrono::milliseconds(200));
}

TEST(EventParserTest, DuplicateKeysLastOccurrenceWins) {
  Event e;
  ASSERT_EQ(
      ParseLine(
          R"({"type":"span_log","id":"1","id":"2","ts":1,"stream":"log","text":"a","text":"b"})",
          &e),
      ParseOutcome::kOk);
  EXPECT_EQ(e.id, "2");
  EXPECT_EQ(e.text, "b");
  ASSERT_EQ(ParseLine(R"({"type":"span_tag","id":"1","tags":{"a":1,"b":2,"a":3}})", &e),
            ParseOutcome::kOk);
  EXPECT_EQ(e.tags_json, R"({"a":3,"b":2})");
  // The type key itself: last wins too.
  ASSERT_EQ(ParseLine(R"({"type":"bogus","type":"result","output":1})", &e), ParseOutcome::kOk);
  EXPECT_EQ(e.type, EventType::kResult);
}

TEST(EventParserTest, ManyDuplicateTagKeysAreMergedWithoutQuadraticCost) {
  std::string line = R"({"type":"span_tag","id":"1","tags":{)";
  for (int i = 0; i < 20000; ++i) {
    line += "\"k" + std::to_string(i % 5000) + "\":" + std::to_string(i) + ",";
  }
  line.back() = '}';
  line += "}";
  Event e;
  auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(ParseLine(line, &e), ParseOutcome::kOk);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(500));
  EXPECT_NE(e.tags_json.find("\"k0\":15000"), std::string::npos);
  EXPECT_EQ(e.tags_json.find("\"k0\":0,"), std::string::npos);
}

TEST(EventParserTest, InvalidUtf8IsMalformed) {
  std::string line =
      "{\"type\":\"span_log\",\"id\":\"1\",\"ts\":1,\"stream\":\"log\",\"text\":\"a\xff\xfe\"}";
  Event e;
  std::string err;
  EXPECT_EQ(ParseLine(line, &e, &err), ParseOutcome::kMalformed);
  EXPECT_NE(err.find("UTF"), std::string::npos) << err;
}

TEST(EventParserTest, DeepNestingIsMalformedWithoutStackOverflow) {
  std::string line = R"({"type":"result","output":)" + std::string(100000, '[');
  Event e;
  EXPECT_EQ(ParseLine(line, &e), ParseOutcome::kMalformed);
  line += std::string(100000, ']') + "}";
  EXPECT_EQ(ParseLine(line, &e), ParseOutcome::kMalformed);
}

TEST(EventParserTest, UnknownTypeIsReportedAsUnknown) {
  Event e;
  EXPECT_EQ(ParseLine(R"({"type":"span_teleport","id":"1"})", &e), ParseOutcome::kUnknownType);
  EXPECT_EQ(ParseLine(R"({"type":"call_result","req":1,"result":{}})", &e),
            ParseOutcome::kUnknownType);
}

TEST(EventParserTest, TrailingCarriageReturnIsAccepted) {
  Event e;
  EXPECT_EQ(ParseLine("{\"type\":\"result\",\"output\":1}\r", &e), ParseOutcome::kOk);
  EXPECT_EQ(e.output_json, "1");
}

TEST(EventParserTest, UnicodeEscapesAreDecodedIntoUtf8) {
  Event e;
  ASSERT_EQ(
      ParseLine(
          R"({"type":"span_log","id":"1","ts":1,"stream":"log","text":"\u00e9\ud83d\ude00\n"})",
          &e),
      ParseOutcome::kOk);
  EXPECT_EQ(e.text, "\xc3\xa9\xf0\x9f\x98\x80\n");
}

TEST(EventParserTest, MegabyteLineParsesAndParserKeepsWorking) {
  std::string text(1 << 20, 'x');
  std::string line = R"({"type":"span_log","id":"1","ts":1,"stream":"log","text":")" + text + "\"}";
  EventParser p;
  Event e;
  std::string err;
  ASSERT_EQ(p.Parse(line, &e, &err), ParseOutcome::kOk);
  EXPECT_EQ(e.text.size(), text.size());
  ASSERT_EQ(p.Parse(R"({"type":"result","output":2})", &e, &err), ParseOutcome::kOk);
  EXPECT_EQ(e.output_json, "2");
}

TEST(EventParserTest, LimitEventNeedsAName) {
  EventParser p;
  Event e;
  std::string err;
  ASSERT_EQ(
      p.Parse(R"({"type":"limit","name":"file_size","error":"OSError: [Errno 27]"})", &e, &err),
      ParseOutcome::kOk)
      << err;
  EXPECT_EQ(e.type, EventType::kLimit);
  EXPECT_EQ(e.name, "file_size");
  EXPECT_EQ(e.error, "OSError: [Errno 27]");
  EXPECT_EQ(p.Parse(R"({"type":"limit"})", &e, &err), ParseOutcome::kMalformed);
  EXPECT_EQ(p.Parse(R"({"type":"limit","name":3})", &e, &err), ParseOutcome::kMalformed);
}

}  // namespace
}  // namespace hero::spans
