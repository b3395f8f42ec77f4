#include "supervisor/core/run_view.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace hero::core
