#include "supervisor/core/run_view.h"

#include <gtest/gtest.h>
#include <simdjson.h>

namespace hero::core {
namespace {

store::SpanRow Span(int64_t seq, std::string id, std::string parent, int64_t start) {
  store::SpanRow r;
  r.seq = SpanSeq{seq};
  r.span_id = std::move(id);
  r.parent_id = std::move(parent);
  r.name = "s" + r.span_id;
  r.kind = r.parent_id.empty() ? "flow_root" : "step";
  r.status = "ok";
  r.start_us = start;
  r.end_us = start + 1;
  return r;
}

TEST(RunViewTest, ChildrenInStartOrderAndLogsUnderTheirSpan) {
  std::vector<store::SpanRow> spans = {Span(0, "1", "", 10), Span(1, "3", "1", 30),
                                       Span(2, "2", "1", 20)};
  store::LogRow log;
  log.span_seq = SpanSeq{1};
  log.stream = "stdout";
  log.text = "hello";
  SpanTree t = BuildTree(spans, {log});
  ASSERT_NE(t.root, nullptr);
  ASSERT_EQ(t.root->children.size(), 2u);
  EXPECT_EQ(t.root->children[0]->span.span_id, "2");
  EXPECT_EQ(t.root->children[1]->span.span_id, "3");
  ASSERT_EQ(t.root->children[1]->logs.size(), 1u);
  EXPECT_EQ(t.root->children[1]->logs[0].text, "hello");
}

TEST(RunViewTest, SpanWithUnknownParentHangsUnderRoot) {
  SpanTree t = BuildTree({Span(0, "1", "", 1), Span(1, "2", "missing", 2)}, {});
  ASSERT_EQ(t.root->children.size(), 1u);
  EXPECT_EQ(t.root->children[0]->span.span_id, "2");
}

// Regression: the JSON writer recursed once per level, so a hostile run nesting 10^5 spans
// crashed `show --json` (and any API answer with the tree) with a stack overflow.
TEST(RunViewTest, DeeplyNestedTreeSerializesWithoutRecursion) {
  const int kDepth = 200'000;
  std::vector<store::SpanRow> spans;
  spans.push_back(Span(0, "0", "", 0));
  for (int i = 1; i < kDepth; ++i)
    spans.push_back(Span(i, std::to_string(i), std::to_string(i - 1), i));
  SpanTree t = BuildTree(std::move(spans), {});
  JsonWriter w;
  WriteSpanNode(w, *t.root);
  const std::string& s = w.str();
  size_t opens = 0, closes = 0;
  for (char c : s) {
    opens += c == '{';
    closes += c == '}';
  }
  EXPECT_EQ(opens, closes);
  EXPECT_EQ(opens, static_cast<size_t>(kDepth) * 2);  // one span object + one tags object each
  EXPECT_EQ(s.substr(s.size() - 4), "]}]}");
}

TEST(RunViewTest, RunDocumentHasRunAndNullTreeWhenNoSpans) {
  store::RunRecord r;
  r.id = RunId{7};
  r.flow_name = "f";
  std::string doc = RunDocumentJson(r, SpanTree{});
  EXPECT_NE(doc.find("\"id\":7"), std::string::npos);
  EXPECT_NE(doc.find("\"tree\":null"), std::string::npos);
}

// play_spans(format: "columns"): one array per span field with WriteSpanFields's values and
// nulls, spans in the given (seq) order, logs pointing at their span's index.
TEST(RunViewTest, SpanColumnsHoldEveryFieldAndLogIndex) {
  std::vector<store::SpanRow> spans = {Span(0, "1", "", 10), Span(1, "2", "1", 20)};
  spans[1].end_us = 0;  // still running -> null
  spans[1].tags_json = R"({"k":"v"})";
  spans[1].error_type = "KeyError";
  spans[1].line = 12;
  spans[1].child_run_id = 7;
  store::LogRow a, b;
  a.span_seq = SpanSeq{1};
  a.ts_us = 25;
  a.stream = "stderr";
  a.text = "warn \"x\"\n";
  b.span_seq = SpanSeq{99};  // a span the run never reported
  b.stream = "stdout";
  b.text = "lost";
  std::string json = SpanColumnsJson(spans, {a, b});
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(padded).get(doc), simdjson::SUCCESS) << json;
  EXPECT_EQ(std::string_view(doc["format"]), "columns");
  EXPECT_EQ(int64_t(doc["count"]), 2);
  EXPECT_EQ(std::string_view(doc["id"].at(1)), "2");
  EXPECT_TRUE(doc["parent"].at(0).is_null());
  EXPECT_EQ(std::string_view(doc["parent"].at(1)), "1");
  EXPECT_EQ(int64_t(doc["end_us"].at(0)), 11);
  EXPECT_TRUE(doc["end_us"].at(1).is_null());
  EXPECT_EQ(std::string_view(doc["tags"].at(1)["k"]), "v");
  EXPECT_EQ(simdjson::dom::object(doc["tags"].at(0)).size(), 0u);
  EXPECT_TRUE(doc["error_type"].at(0).is_null());
  EXPECT_EQ(std::string_view(doc["error_type"].at(1)), "KeyError");
  EXPECT_EQ(int64_t(doc["line"].at(1)), 12);
  EXPECT_TRUE(doc["line"].at(0).is_null());
  EXPECT_EQ(int64_t(doc["child_run_id"].at(1)), 7);
  EXPECT_FALSE(bool(doc["orphan"].at(1)));
  EXPECT_EQ(int64_t(doc["log_span"].at(0)), 1);
  EXPECT_TRUE(doc["log_span"].at(1).is_null());
  EXPECT_EQ(std::string_view(doc["log_stream"].at(0)), "stderr");
  EXPECT_EQ(std::string_view(doc["log_text"].at(0)), "warn \"x\"\n");
  EXPECT_EQ(int64_t(doc["log_ts_us"].at(0)), 25);
  // Every column has one entry per span.
  for (const char* k : {"seq", "name", "kind", "status", "start_us", "traceback", "rpc_service",
                        "rpc_method", "file", "cpu_us", "rss_kb"})
    EXPECT_EQ(simdjson::dom::array(doc[k]).size(), 2u) << k;
}

}  // namespace
}  // namespace hero::core
