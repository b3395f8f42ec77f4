#include "span_listener/span_assembler.h"

#include <gtest/gtest.h>

#include <string>

#include "span_listener/event_parser.h"
#include "tests/span_listener/recording_sink.h"

namespace hero::spans {
namespace {

using testing::RecordingSink;

class Harness {
 public:
  explicit Harness(Limits limits = Limits()) : assembler(limits, "flow.py", &sink) {}

  void Line(std::string_view json) {
    std::string err;
    ASSERT_EQ(parser.Parse(json, &event, &err), ParseOutcome::kOk) << json << ": " << err;
    assembler.Apply(event);
  }
  void Start(const std::string& id, const std::string& parent, const std::string& name,
             int64_t ts = 100, const std::string& extra = "") {
    std::string p = parent == "null" ? "null" : "\"" + parent + "\"";
    Line(R"({"type":"span_start","id":")" + id + R"(","parent":)" + p + R"(,"name":")" + name +
         R"(","kind":"step","ts":)" + std::to_string(ts) + extra + "}");
  }
  void End(const std::string& id, int64_t ts = 200, const std::string& status = "ok",
           const std::string& extra = "") {
    Line(R"({"type":"span_end","id":")" + id + R"(","ts":)" + std::to_string(ts) +
         R"(,"status":")" + status + "\"" + extra + "}");
  }
  void Tag(const std::string& id, const std::string& tags) {
    Line(R"({"type":"span_tag","id":")" + id + R"(","tags":)" + tags + "}");
  }
  void Log(const std::string& id, const std::string& text, const std::string& stream = "log") {
    Line(R"({"type":"span_log","id":")" + id + R"(","ts":150,"stream":")" + stream +
         R"(","text":")" + text + "\"}");
  }

  RecordingSink sink;
  SpanAssembler assembler;
  EventParser parser;
  Event event;
};

TEST(SpanAssemblerTest, FirstNullParentSpanIsTheRoot) {
  Harness h;
  h.Start("1", "null", "root");
  h.Start("2", "1", "step");
  const SpanRecord* root = h.sink.ById("1");
  ASSERT_NE(root, nullptr);
  EXPECT_EQ(root->seq.value, 0);
  EXPECT_TRUE(root->parent_id.empty());
  EXPECT_FALSE(root->parent_seq.valid());
  EXPECT_EQ(root->status, "running");
  const SpanRecord* step = h.sink.ById("2");
  EXPECT_EQ(step->parent_id, "1");
  EXPECT_EQ(step->parent_seq.value, 0);
  EXPECT_FALSE(step->orphan);
  EXPECT_EQ(h.assembler.root_status(), "running");
}

TEST(SpanAssemblerTest, SecondRootIsAttachedToRootAndFlaggedOrphan) {
  Harness h;
  h.Start("1", "null", "root");
  h.Start("9", "null", "other_root");
  const SpanRecord* second = h.sink.ById("9");
  EXPECT_EQ(second->parent_id, "1");
  EXPECT_EQ(second->parent_seq.value, 0);
  EXPECT_TRUE(second->orphan);
  h.assembler.Finish(EndOutcome::kExited, "");
  EXPECT_EQ(h.sink.Roots().size(), 1u);
}

TEST(SpanAssemblerTest, RepeatedStartUpdatesWithoutDuplicatingOrReparenting) {
  Harness h;
  h.Start("1", "null", "root");
  h.Start("2", "1", "step");
  h.Start("3", "1", "step", 100, R"(,"tags":{"a":1,"b":2},"file":"f.py","line":3)");
  h.Start("3", "2", "renamed", 500, R"(,"tags":{"b":3},"line":9,"rpc_service":"s","kind":"rpc")");
  EXPECT_EQ(h.assembler.span_count(), 3);
  const SpanRecord* s = h.sink.ById("3");
  EXPECT_EQ(s->seq.value, 2);
  EXPECT_EQ(s->name, "renamed");
  EXPECT_EQ(s->kind, "rpc");  // the extra "kind" repeats the key: the last occurrence wins
  EXPECT_EQ(s->parent_id, "1");
  EXPECT_EQ(s->start_us, 100);
  EXPECT_EQ(s->tags_json, R"({"a":1,"b":3})");
  EXPECT_EQ(s->file, "f.py");  // not given again: kept
  EXPECT_EQ(s->line, 9);
  EXPECT_EQ(s->rpc_service, "s");
}

TEST(SpanAssemblerTest, RepeatedStartUpdatesKind) {
  Harness h;
  h.Line(R"({"type":"span_start","id":"1","parent":null,"name":"r","kind":"step","ts":1})");
  h.Line(R"({"type":"span_start","id":"1","parent":null,"name":"r","kind":"flow_root","ts":1})");
  EXPECT_EQ(h.sink.ById("1")->kind, "flow_root");
  EXPECT_EQ(h.assembler.span_count(), 1);
}

TEST(SpanAssemblerTest, UnknownKindIsStoredAsOther) {
  Harness h;
  h.Line(R"({"type":"span_start","id":"1","parent":null,"name":"r","kind":"lambda","ts":1})");
  EXPECT_EQ(h.sink.ById("1")->kind, "other");
}

TEST(SpanAssemblerTest, TagMergeLaterKeysWin) {
  Harness h;
  h.Start("1", "null", "root", 100, R"(,"tags":{"url":"http://x","n":1})");
  h.Tag("1", R"({"n":2,"words":120})");
  h.Tag("1", R"({"url":{"nested":[1,2]}})");
  EXPECT_EQ(h.sink.ById("1")->tags_json, R"({"url":{"nested":[1,2]},"n":2,"words":120})");
}

// Changed semantics (compact closed spans): events for a span that already ended are counted
// (late_events) and ignored; formerly a late span_tag merged and re-emitted the closed span.
TEST(SpanAssemblerTest, TagOnClosedSpanIsLateAndIgnored) {
  Harness h;
  h.Start("1", "null", "root");
  h.Start("2", "1", "step", 100, R"(,"tags":{"a":1})");
  h.End("2", 300);
  size_t rows = h.sink.rows.size();
  h.Tag("2", R"({"late":true})");
  h.Tag("2", R"({})");
  EXPECT_EQ(h.sink.rows.size(), rows);
  EXPECT_EQ(h.assembler.stats().late_events, 2);
  EXPECT_EQ(h.assembler.stats().orphan_events, 0);
  const SpanRecord* r = h.sink.ById("2");
  EXPECT_EQ(r->tags_json, R"({"a":1})");
  EXPECT_EQ(r->status, "ok");
  EXPECT_EQ(r->end_us, 300);
  h.End("1", 400);
  h.Tag("1", R"({"late":true})");  // the root too
  EXPECT_EQ(h.assembler.stats().late_events, 3);
  EXPECT_EQ(h.sink.ById("1")->tags_json, "{}");
}

TEST(SpanAssemblerTest, RepeatedStartOnClosedSpanIsLateAndIgnored) {
  Harness h;
  h.Start("1", "null", "root");
  h.Start("2", "1", "step");
  h.End("2", 300);
  size_t rows = h.sink.rows.size();
  h.Start("2", "1", "renamed", 100, R"(,"tags":{"b":2})");
  h.Start("2", "404", "again");
  EXPECT_EQ(h.sink.rows.size(), rows);
  EXPECT_EQ(h.assembler.stats().late_events, 2);
  EXPECT_EQ(h.assembler.span_count(), 2);
  EXPECT_EQ(h.sink.ById("2")->name, "step");
  h.End("2", 900);
  EXPECT_EQ(h.assembler.stats().duplicate_ends, 1);
  EXPECT_EQ(h.assembler.stats().late_events, 2);  // a second end counts as duplicate only
}

TEST(SpanAssemblerTest, UnknownStatusIsStoredAsFailed) {
  Harness h;
  h.Start("1", "null", "root");
  h.Start("2", "1", "a");
  h.Start("3", "1", "b");
  h.End("2", 200, "exploded");
  h.End("3", 200, "cancelled");
  EXPECT_EQ(h.sink.ById("2")->status, "failed");
  EXPECT_EQ(h.sink.ById("3")->status, "cancelled");
}

TEST(SpanAssemblerTest, OrphanIsHeldUntilParentArrives) {
  Harness h;
  h.Start("3", "2", "grandchild");
  const SpanRecord* held = h.sink.ById("3");
  EXPECT_EQ(held->parent_id, "2");
  EXPECT_FALSE(held->parent_seq.valid());
  h.Start("2", "1", "child");
  h.Start("1", "null", "root");
  EXPECT_EQ(h.sink.ById("3")->parent_seq.value, h.sink.ById("2")->seq.value);
  EXPECT_EQ(h.sink.ById("2")->parent_seq.value, h.sink.ById("1")->seq.value);
  EXPECT_FALSE(h.sink.ById("3")->orphan);
  h.assembler.Finish(EndOutcome::kExited, "");
  EXPECT_FALSE(h.sink.ById("3")->orphan);
  EXPECT_FALSE(h.sink.ById("2")->orphan);
  EXPECT_EQ(h.sink.Roots().size(), 1u);
}

TEST(SpanAssemblerTest, OrphanAtEndIsAttachedToRootAndFlagged) {
  Harness h;
  h.Start("1", "null", "root");
  h.Start("5", "404", "lost");
  h.Start("6", "5", "below_lost");
  h.End("6");
  h.End("5");
  h.End("1", 300);
  h.assembler.Finish(EndOutcome::kExited, "");
  const SpanRecord* lost = h.sink.ById("5");
  EXPECT_TRUE(lost->orphan);
  EXPECT_EQ(lost->parent_id, "1");
  EXPECT_EQ(lost->parent_seq.value, 0);
  EXPECT_EQ(lost->status, "ok");
  const SpanRecord* below = h.sink.ById("6");
  EXPECT_FALSE(below->orphan);  // its own parent is known; only the head is re-attached
  EXPECT_EQ(below->parent_id, "5");
}

TEST(SpanAssemblerTest, ParentCycleIsAttachedToRootAtFinish) {
  Harness h;
  h.Start("1", "null", "root");
  h.Start("a", "b", "A");
  h.Start("b", "a", "B");
  h.Start("c", "b", "C");
  h.Start("s", "s", "self");
  h.assembler.Finish(EndOutcome::kExited, "");
  // Every span reaches the root by parent_seq links, with a bounded walk.
  for (const auto& [seq, row] : h.sink.latest) {
    int64_t at = seq;
    int hops = 0;
    while (h.sink.latest.at(at).parent_seq.valid() && hops < 10) {
      at = h.sink.latest.at(at).parent_seq.value;
      ++hops;
    }
    EXPECT_EQ(at, 0) << row.span_id;
    EXPECT_LT(hops, 10);
  }
  EXPECT_TRUE(h.sink.ById("a")->orphan);
  EXPECT_FALSE(h.sink.ById("b")->orphan);
  EXPECT_FALSE(h.sink.ById("c")->orphan);
  EXPECT_TRUE(h.sink.ById("s")->orphan);
  EXPECT_EQ(h.sink.Roots().size(), 1u);
}

TEST(SpanAssemblerTest, EventsForUnknownIdsAreOrphanEvents) {
  Harness h;
  h.End("7");
  h.Tag("7", R"({"a":1})");
  h.Log("7", "x");
  EXPECT_EQ(h.assembler.stats().orphan_events, 3);
  EXPECT_EQ(h.assembler.span_count(), 0);
  EXPECT_TRUE(h.sink.rows.empty());
  EXPECT_TRUE(h.sink.logs.empty());
}

TEST(SpanAssemblerTest, SecondEndIsIgnoredAndCounted) {
  Harness h;
  h.Start("1", "null", "root");
  h.End("1", 200, "ok");
  h.End("1", 900, "failed", R"(,"error":"late")");
  EXPECT_EQ(h.assembler.stats().duplicate_ends, 1);
  const SpanRecord* r = h.sink.ById("1");
  EXPECT_EQ(r->status, "ok");
  EXPECT_EQ(r->end_us, 200);
  EXPECT_TRUE(r->error.empty());
  EXPECT_FALSE(h.assembler.first_failure().has_value());
}

TEST(SpanAssemblerTest, EndBeforeStartIsClampedToStart) {
  Harness h;
  h.Start("1", "null", "root", 1000);
  h.End("1", 10);
  EXPECT_EQ(h.sink.ById("1")->end_us, 1000);
}

TEST(SpanAssemblerTest, EndCarriesErrorAndResourceFields) {
  Harness h;
  h.Start("1", "null", "root");
  h.End(
      "1", 200, "failed",
      R"(,"error":"boom","error_type":"ValueError","traceback":"Traceback...","cpu_us":850,"rss_kb":4096)");
  const SpanRecord* r = h.sink.ById("1");
  EXPECT_EQ(r->error, "boom");
  EXPECT_EQ(r->error_type, "ValueError");
  EXPECT_EQ(r->traceback, "Traceback...");
  EXPECT_EQ(r->cpu_us, 850);
  EXPECT_EQ(r->rss_kb, 4096);
}

class FinishOutcomeTest
    : public ::testing::TestWithParam<std::tuple<EndOutcome, std::string, std::string>> {};

TEST_P(FinishOutcomeTest, FinishClosesEveryOpenSpan) {
  auto [outcome, status, error] = GetParam();
  Harness h;
  h.Start("1", "null", "root", 100);
  h.Start("2", "1", "step", 110);
  h.Start("3", "2", "inner", 120);
  h.Start("4", "1", "done", 130);
  h.End("4", 140);
  h.assembler.Finish(outcome, "the reason", 5000);
  EXPECT_EQ(h.sink.RunningCount(), 0);
  for (const char* id : {"1", "2", "3"}) {
    const SpanRecord* r = h.sink.ById(id);
    EXPECT_EQ(r->status, status) << id;
    EXPECT_EQ(r->error, error) << id;
    EXPECT_EQ(r->end_us, 5000) << id;
  }
  EXPECT_EQ(h.sink.ById("4")->status, "ok");
  EXPECT_EQ(h.assembler.root_status(), status);
  EXPECT_TRUE(h.assembler.finished());
}

INSTANTIATE_TEST_SUITE_P(
    AllOutcomes, FinishOutcomeTest,
    ::testing::Values(std::make_tuple(EndOutcome::kExited, "failed",
                                      "process exited before the span ended"),
                      std::make_tuple(EndOutcome::kTimedOut, "timed_out", "the reason"),
                      std::make_tuple(EndOutcome::kCancelled, "cancelled", "the reason"),
                      std::make_tuple(EndOutcome::kKilled, "killed", "the reason")));

TEST(SpanAssemblerTest, FinishWithoutTimeUsesLatestTsAndNeverEndsBeforeStart) {
  Harness h;
  h.Start("1", "null", "root", 100);
  h.Start("2", "1", "step", 400);
  h.Log("1", "x");  // ts 150
  h.assembler.Finish(EndOutcome::kExited, "");
  EXPECT_EQ(h.sink.ById("1")->end_us, 400);
  EXPECT_EQ(h.sink.ById("2")->end_us, 400);
}

TEST(SpanAssemblerTest, FinishIsIdempotentAndLaterEventsAreIgnored) {
  Harness h;
  h.Start("1", "null", "root");
  h.assembler.Finish(EndOutcome::kTimedOut, "timeout 5s");
  size_t rows = h.sink.rows.size();
  h.assembler.Finish(EndOutcome::kExited, "");
  h.Start("2", "1", "late");
  h.End("1");
  EXPECT_EQ(h.sink.rows.size(), rows);
  EXPECT_EQ(h.assembler.root_status(), "timed_out");
  EXPECT_EQ(h.assembler.stats().events, 1);
}

TEST(SpanAssemblerTest, SynthesizesRootWhenNoneCame) {
  Harness h;
  h.Start("2", "1", "step", 300);
  h.End("2", 400);
  h.assembler.Finish(EndOutcome::kExited, "exit code 1");
  auto roots = h.sink.Roots();
  ASSERT_EQ(roots.size(), 1u);
  EXPECT_EQ(roots[0]->name, "flow.py");
  EXPECT_EQ(roots[0]->kind, "flow_root");
  EXPECT_EQ(roots[0]->status, "failed");
  EXPECT_EQ(roots[0]->error, "exit code 1");
  EXPECT_EQ(roots[0]->start_us, 300);
  EXPECT_EQ(roots[0]->end_us, 400);
  const SpanRecord* step = h.sink.ById("2");
  EXPECT_TRUE(step->orphan);
  EXPECT_EQ(step->parent_seq.value, roots[0]->seq.value);
}

TEST(SpanAssemblerTest, SynthesizedRootOfEmptyCleanRunIsOk) {
  Harness h;
  h.assembler.Finish(EndOutcome::kExited, "", 777);
  auto roots = h.sink.Roots();
  ASSERT_EQ(roots.size(), 1u);
  EXPECT_EQ(roots[0]->status, "ok");
  EXPECT_EQ(roots[0]->start_us, 777);
  EXPECT_EQ(h.assembler.span_count(), 1);
}

TEST(SpanAssemblerTest, SynthesizedRootIdAvoidsWireIds) {
  Harness h;
  h.Start("<root>", "x", "sneaky");
  h.assembler.Finish(EndOutcome::kKilled, "memory limit");
  auto roots = h.sink.Roots();
  ASSERT_EQ(roots.size(), 1u);
  EXPECT_NE(roots[0]->span_id, "<root>");
  EXPECT_EQ(roots[0]->status, "killed");
  EXPECT_EQ(h.sink.ById("<root>")->parent_seq.value, roots[0]->seq.value);
}

TEST(SpanAssemblerTest, PipeLogsAreHeldUntilRootExists) {
  Harness h;
  h.assembler.AddPipeLog("stdout", 10, "early\n");
  h.assembler.AddPipeLog("stderr", 11, "warn\n");
  EXPECT_TRUE(h.sink.logs.empty());
  h.Start("1", "null", "root");
  ASSERT_EQ(h.sink.logs.size(), 2u);
  EXPECT_EQ(h.sink.logs[0].text, "early\n");
  EXPECT_EQ(h.sink.logs[0].stream, "stdout");
  EXPECT_EQ(h.sink.logs[1].stream, "stderr");
  EXPECT_EQ(h.sink.logs[1].span_seq.value, 0);
  h.assembler.AddPipeLog("stdout", 12, "later\n");
  ASSERT_EQ(h.sink.logs.size(), 3u);
  EXPECT_EQ(h.sink.logs[2].span_seq.value, 0);
}

TEST(SpanAssemblerTest, PipeLogsGoToSynthesizedRootAtFinish) {
  Harness h;
  h.assembler.AddPipeLog("stderr", 10, "Traceback: SyntaxError\n");
  h.assembler.Finish(EndOutcome::kExited, "exit code 2");
  ASSERT_EQ(h.sink.logs.size(), 1u);
  EXPECT_EQ(h.sink.logs[0].span_seq.value, h.sink.Roots()[0]->seq.value);
  h.assembler.AddPipeLog("stderr", 11, "drained after finish\n");
  EXPECT_EQ(h.sink.logs.size(), 2u);
}

TEST(SpanAssemblerTest, SpanLogsReachTheSinkWithNormalizedStream) {
  Harness h;
  h.Start("1", "null", "root");
  h.Log("1", "a", "stdout");
  h.Log("1", "b", "weird");
  ASSERT_EQ(h.sink.logs.size(), 2u);
  EXPECT_EQ(h.sink.logs[0].stream, "stdout");
  EXPECT_EQ(h.sink.logs[1].stream, "log");
  EXPECT_EQ(h.sink.logs[1].ts_us, 150);
}

TEST(SpanAssemblerTest, SpanCapDropsAndCounts) {
  Limits limits;
  limits.max_spans = 3;
  Harness h(limits);
  h.Start("1", "null", "root");
  h.Start("2", "1", "a");
  h.Start("3", "1", "b");
  h.Start("4", "1", "c");
  h.Start("5", "1", "d");
  h.Start("2", "1", "a-again");  // known span: an update, not a new span
  EXPECT_EQ(h.assembler.span_count(), 3);
  EXPECT_EQ(h.assembler.stats().dropped_spans, 2);
  h.End("4");
  EXPECT_EQ(h.assembler.stats().orphan_events, 1);
}

TEST(SpanAssemblerTest, LogByteCapDropsAndCounts) {
  Limits limits;
  limits.max_log_bytes = 10;
  Harness h(limits);
  h.Start("1", "null", "root");
  h.Log("1", "123456");
  h.Log("1", "7890ab");  // would pass 10
  h.Log("1", "cdef");    // fits exactly
  h.assembler.AddPipeLog("stdout", 1, "xyz");
  ASSERT_EQ(h.sink.logs.size(), 2u);
  EXPECT_EQ(h.assembler.stats().dropped_log_bytes, 9);
}

TEST(SpanAssemblerTest, TagByteCapDropsAndCounts) {
  Limits limits;
  limits.max_tag_bytes = 32;
  Harness h(limits);
  h.Start("1", "null", "root", 100, R"(,"tags":{"a":"0123456789012345678901234567890123456789"})");
  EXPECT_EQ(h.assembler.stats().dropped_tag_events, 1);
  EXPECT_EQ(h.sink.ById("1")->tags_json, "{}");
  h.Tag("1", R"({"k":"short"})");
  EXPECT_EQ(h.sink.ById("1")->tags_json, R"({"k":"short"})");
  h.Tag("1", R"({"more":"0123456789012345678"})");  // merged result > 32 bytes
  EXPECT_EQ(h.assembler.stats().dropped_tag_events, 2);
  EXPECT_EQ(h.sink.ById("1")->tags_json, R"({"k":"short"})");
}

TEST(SpanAssemblerTest, DiagnosticsKeepFirstFiveTruncatedAndSanitized) {
  Harness h;
  std::string long_line = "\xff" + std::string(500, 'x');
  for (int i = 0; i < 8; ++i) {
    h.assembler.NoteLine();
    h.assembler.NoteMalformed(long_line, "invalid JSON");
  }
  const Stats& s = h.assembler.stats();
  EXPECT_EQ(s.malformed_lines, 8);
  ASSERT_EQ(s.diagnostics.size(), 5u);
  EXPECT_EQ(s.diagnostics[0].rfind("line 1: invalid JSON: ", 0), 0u) << s.diagnostics[0];
  for (const auto& d : s.diagnostics) {
    EXPECT_LE(d.size(), 200u);
    EXPECT_EQ(d.find('\xff'), std::string::npos);
  }
}

TEST(SpanAssemblerTest, FirstFailureIsInnermostFailedSpanWithPath) {
  Harness h;
  h.Start("1", "null", "root");
  h.Start("2", "1", "step");
  h.Start("3", "2", "sub");
  h.End("3", 200, "failed", R"(,"error":"bad input","error_type":"ValueError")");
  h.End("2", 210, "failed", R"(,"error":"bad input","error_type":"ValueError")");
  h.End("1", 220, "failed");
  auto f = h.assembler.first_failure();
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->path, "root/step/sub");
  EXPECT_EQ(f->span_name, "sub");
  EXPECT_EQ(f->error_type, "ValueError");
  EXPECT_EQ(f->error, "bad input");
}

TEST(SpanAssemblerTest, FirstFailureAtExitNamesInnermostOpenSpan) {
  Harness h;
  h.Start("1", "null", "root");
  h.Start("2", "1", "step");
  h.Start("3", "2", "sub");
  h.assembler.Finish(EndOutcome::kExited, "");
  auto f = h.assembler.first_failure();
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->path, "root/step/sub");
  EXPECT_EQ(f->error, "process exited before the span ended");
}

TEST(SpanAssemblerTest, ForwardsHelloResultAndCall) {
  Harness h;
  h.Line(R"({"type":"hello","v":1,"sdk":"0.1.0","pid":42})");
  h.Line(R"({"type":"result","output":{"summary":"..."}})");
  h.Line(R"({"type":"call","req":7,"method":"flow_get","params":{"name":"x"}})");
  EXPECT_EQ(h.sink.hello_sdk, "0.1.0");
  EXPECT_EQ(h.sink.hello_pid, 42);
  ASSERT_EQ(h.sink.results.size(), 1u);
  EXPECT_EQ(h.sink.results[0], R"({"summary":"..."})");
  ASSERT_EQ(h.sink.calls.size(), 1u);
  EXPECT_EQ(h.sink.calls[0].req, 7);
  EXPECT_EQ(h.sink.calls[0].params_json, R"({"name":"x"})");
}

TEST(SpanAssemblerTest, ManySpansKeepCompactMemory) {
  Harness h;
  h.Start("1", "null", "root");
  constexpr int kSpans = 100000;
  for (int i = 2; i < kSpans; ++i) {
    std::string id = std::to_string(i);
    h.Start(id, "1", "step_name", 100, R"(,"file":"flow.py","line":12,"tags":{"i":)" + id + "}");
    h.End(id, 200);
    h.sink.rows.clear();
    h.sink.latest.clear();
  }
  double per_span = static_cast<double>(h.assembler.ApproxSpanBytes()) / kSpans;
  EXPECT_LT(per_span, 64.0);  // closed spans drop their data (was < 200 with full slots)
  std::printf("approx bytes per closed span: %.1f\n", per_span);
  // Every id is still known: logs reach the right span, new ids are new spans.
  h.Log("777", "late line");
  ASSERT_EQ(h.sink.logs.size(), 1u);
  EXPECT_EQ(h.sink.logs[0].span_seq.value, 776);
  h.Start("100000", "99999", "new_below_closed");
  EXPECT_EQ(h.sink.ById("100000")->parent_seq.value, 99998);
  EXPECT_EQ(h.assembler.span_count(), kSpans);
  h.assembler.Finish(EndOutcome::kExited, "");
  EXPECT_EQ(h.sink.ById("100000")->status, "failed");
  EXPECT_LT(h.assembler.ApproxSpanBytes(), size_t{kSpans} * 48);
  EXPECT_EQ(h.assembler.held_spans(), 0);  // Finish releases all data
}

TEST(SpanAssemblerTest, LogsAndChildrenOfDroppedSpansStillResolve) {
  Harness h;
  h.Start("1", "null", "root");
  h.Start("2", "1", "parent");
  h.End("2", 200);  // closed and anchored: dropped
  EXPECT_EQ(h.assembler.held_spans(), 1);
  h.Log("2", "after end");
  ASSERT_EQ(h.sink.logs.size(), 1u);
  EXPECT_EQ(h.sink.logs[0].span_seq.value, 1);
  h.Start("3", "2", "late_child", 300);
  const SpanRecord* c = h.sink.ById("3");
  EXPECT_EQ(c->parent_seq.value, 1);
  EXPECT_EQ(c->parent_id, "2");
  EXPECT_FALSE(c->orphan);
  h.End("3", 400, "failed", R"(,"error":"boom","error_type":"E")");
  auto f = h.assembler.first_failure();
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->path, ".../late_child");  // its parent's name was dropped before it started
  EXPECT_EQ(f->span_name, "late_child");
  EXPECT_EQ(f->error, "boom");
  h.assembler.Finish(EndOutcome::kExited, "");
  EXPECT_FALSE(h.sink.ById("3")->orphan);
  EXPECT_EQ(h.sink.Roots().size(), 1u);
}

TEST(SpanAssemblerTest, ClosedAncestorsOfARunningSpanKeepTheirNames) {
  Harness h;
  h.Start("1", "null", "root");
  h.Start("2", "1", "outer");
  h.Start("3", "2", "middle");
  h.Start("4", "3", "worker");  // e.g. a thread that outlives its creators
  h.End("3", 200);
  h.End("2", 210);
  EXPECT_EQ(h.assembler.held_spans(), 4);  // 2 and 3 are held for 4's sake
  h.End("4", 300, "failed", R"(,"error":"late boom")");
  EXPECT_EQ(h.assembler.held_spans(), 1);
  auto f = h.assembler.first_failure();
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->path, "root/outer/middle/worker");
  EXPECT_EQ(f->error, "late boom");
}

TEST(SpanAssemblerTest, HeldClosedOrphanIsReEmittedInFullAtFinish) {
  Harness h;
  h.Start("1", "null", "root");
  h.Start("5", "404", "lost", 100, R"(,"tags":{"k":"v"},"file":"f.py","line":7)");
  h.End("5", 200, "failed", R"(,"error":"e","error_type":"T","traceback":"tb","cpu_us":3)");
  h.Log("5", "still known");
  h.End("1", 300);
  size_t rows = h.sink.rows.size();
  h.assembler.Finish(EndOutcome::kExited, "");
  EXPECT_EQ(h.sink.rows.size(), rows + 1);  // only the orphan changed
  const SpanRecord* lost = h.sink.ById("5");
  EXPECT_TRUE(lost->orphan);
  EXPECT_EQ(lost->parent_id, "1");
  EXPECT_EQ(lost->parent_seq.value, 0);
  EXPECT_EQ(lost->name, "lost");
  EXPECT_EQ(lost->tags_json, R"({"k":"v"})");
  EXPECT_EQ(lost->file, "f.py");
  EXPECT_EQ(lost->line, 7);
  EXPECT_EQ(lost->status, "failed");
  EXPECT_EQ(lost->error, "e");
  EXPECT_EQ(lost->error_type, "T");
  EXPECT_EQ(lost->traceback, "tb");
  EXPECT_EQ(lost->cpu_us, 3);
  EXPECT_EQ(lost->start_us, 100);
  EXPECT_EQ(lost->end_us, 200);
}

TEST(SpanAssemblerTest, ClosedCycleIsReEmittedInFullAtFinish) {
  Harness h;
  h.Start("1", "null", "root");
  h.Start("a", "b", "A", 100, R"(,"tags":{"x":1})");
  h.Start("b", "a", "B");
  h.Start("c", "b", "C");
  h.End("c", 150);
  h.End("b", 160);
  h.End("a", 170);
  h.End("1", 300);
  h.assembler.Finish(EndOutcome::kExited, "");
  const SpanRecord* a = h.sink.ById("a");
  EXPECT_TRUE(a->orphan);
  EXPECT_EQ(a->parent_seq.value, 0);
  EXPECT_EQ(a->name, "A");
  EXPECT_EQ(a->tags_json, R"({"x":1})");
  EXPECT_EQ(a->end_us, 170);
  EXPECT_EQ(h.sink.ById("b")->parent_id, "a");
  EXPECT_EQ(h.sink.ById("c")->parent_id, "b");
  EXPECT_EQ(h.sink.RunningCount(), 0);
}

TEST(SpanAssemblerTest, LateRootAnchorsAndDropsWaitingClosedSpans) {
  Harness h;
  h.Start("3", "2", "leaf", 30);
  h.Start("4", "3", "below_leaf", 31);
  h.End("4", 32);
  h.End("3", 35);
  h.Start("2", "1", "mid", 20);
  h.End("2", 40);
  EXPECT_EQ(h.assembler.held_spans(), 3);
  h.Start("1", "null", "root", 10);  // anchors 2, 3, 4: all closed, now dropped
  EXPECT_EQ(h.assembler.held_spans(), 1);
  h.Log("4", "x");
  ASSERT_EQ(h.sink.logs.size(), 1u);
  EXPECT_EQ(h.sink.logs[0].span_seq.value, 1);
  h.Tag("3", R"({"t":1})");
  EXPECT_EQ(h.assembler.stats().late_events, 1);
  h.End("1", 50);
  size_t rows = h.sink.rows.size();
  h.assembler.Finish(EndOutcome::kExited, "");
  EXPECT_EQ(h.sink.rows.size(), rows);  // nothing to change
  EXPECT_EQ(h.sink.ById("3")->parent_seq.value, h.sink.ById("2")->seq.value);
  EXPECT_EQ(h.sink.ById("4")->parent_seq.value, h.sink.ById("3")->seq.value);
  for (const auto& [seq, row] : h.sink.latest) EXPECT_FALSE(row.orphan) << row.span_id;
}

TEST(SpanAssemblerTest, LimitEventReachesTheSinkAndKilledEndIsKept) {
  Harness h;
  h.Start("1", "null", "job");
  h.Line(R"({"type":"limit","name":"memory","error":"MemoryError: "})");
  h.End("1", 200, "killed", R"(,"error":"","error_type":"MemoryError")");
  ASSERT_EQ(h.sink.limits.size(), 1u);
  EXPECT_EQ(h.sink.limits[0], "memory|MemoryError: ");
  EXPECT_EQ(h.sink.ById("1")->status, "killed");
}

TEST(SpanAssemblerTest, ExitedErrorNamesTheExitCode) {
  Harness h;
  h.Start("1", "null", "job");
  h.Start("2", "1", "upload");
  h.assembler.SetExitedError("process exited with code 3");
  h.assembler.Finish(EndOutcome::kExited, "the script exited with code 3", 500);
  EXPECT_EQ(h.sink.ById("2")->status, "failed");
  EXPECT_EQ(h.sink.ById("2")->error, "process exited with code 3");
}

// Regression (issue 15): a 200 MB printer's stored output stopped at the log cap, so its
// "tail" was from the first 64 MiB, not how the script ended.
TEST(SpanAssemblerTest, OutputOverTheLogCapKeepsItsEnd) {
  Limits lim;
  lim.max_log_bytes = 1 << 20;
  Harness h(lim);
  h.Start("1", "null", "job");
  for (int i = 0; i < 150000; ++i) h.Log("1", "line " + std::to_string(i) + "\\n", "stdout");
  h.Log("1", "oops: something went wrong\\n", "stderr");
  h.Log("1", "the end\\n", "stdout");  // short enough to fit: still goes to the tail, in order
  h.assembler.Finish(EndOutcome::kExited, "", 500);
  EXPECT_GT(h.assembler.stats().dropped_log_bytes, 500000);
  ASSERT_GE(h.sink.logs.size(), 3u);
  const auto& out = h.sink.logs[h.sink.logs.size() - 2];
  const auto& err = h.sink.logs.back();
  EXPECT_EQ(out.stream, "stdout");
  EXPECT_TRUE(out.text.starts_with("line ")) << out.text;
  EXPECT_TRUE(out.text.ends_with("line 149998\nline 149999\nthe end\n")) << out.text.substr(0, 100);
  EXPECT_EQ(err.stream, "stderr");
  EXPECT_EQ(err.text, "oops: something went wrong\n");
  EXPECT_EQ(h.sink.logs[h.sink.logs.size() - 3].stream, "log");
  // The tails are inside the cap, not on top of it.
  int64_t stored = 0;
  for (const auto& l : h.sink.logs) stored += static_cast<int64_t>(l.text.size());
  EXPECT_LE(stored, lim.max_log_bytes);
}

TEST(SpanAssemblerTest, DroppedTailIsBounded) {
  Limits lim;
  lim.max_log_bytes = 1 << 20;
  Harness h(lim);
  h.Start("1", "null", "job");
  std::string chunk(1000, 'x');
  for (int i = 0; i < 2000; ++i) h.Log("1", chunk + "\\n", "stdout");
  h.assembler.Finish(EndOutcome::kExited, "", 500);
  EXPECT_LE(h.sink.logs.back().text.size(), 64u << 10);
  EXPECT_GT(h.sink.logs.back().text.size(), 60u << 10);
  int64_t stored = 0;
  for (const auto& l : h.sink.logs) stored += static_cast<int64_t>(l.text.size());
  EXPECT_LE(stored, lim.max_log_bytes);
}

}  // namespace
}  // namespace hero::spans
