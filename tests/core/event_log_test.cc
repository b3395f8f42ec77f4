// RunEvents / EventLog memory bounds: a span flood on the daemon must not grow its RSS past
// the limits (escape case E51 through the daemon: "supervisor RSS bounded").
#include "supervisor/core/event_log.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace hero::core {
namespace {

struct Recorder : api::SseStream {
  std::vector<std::pair<std::string, std::string>> events;
  bool open = true;
  bool Send(int64_t, std::string_view name, std::string_view data) override {
    events.emplace_back(name, data);
    return open;
  }
  void Close() override { open = false; }
  bool is_open() const override { return open; }
};

spans::SpanRecord Span(int64_t seq, bool closed) {
  spans::SpanRecord s;
  s.seq = SpanSeq{seq};
  s.span_id = "span-" + std::to_string(seq);
  s.parent_id = seq == 0 ? "" : "span-0";
  s.name = "step " + std::to_string(seq) + std::string(60, 'x');
  s.kind = seq == 0 ? "flow_root" : "step";
  s.start_us = 1'000'000 + seq;
  s.end_us = closed ? s.start_us + 5 : 0;
  s.status = closed ? "ok" : "running";
  return s;
}

spans::LogRecord Log(int64_t seq, std::string text) {
  spans::LogRecord l;
  l.span_seq = SpanSeq{seq};
  l.ts_us = 2'000'000;
  l.stream = "stdout";
  l.text = std::move(text);
  return l;
}

TEST(RunEventsTest, ASpanFloodIsBoundedByTheRealCostOfTheEvents) {
  EventLogLimits limits;
  RunEvents events(nullptr, limits);
  RunId run{7};
  events.OnSpan(run, Span(0, false));
  for (int64_t seq = 1; seq <= 200'000; ++seq) {
    events.OnSpan(run, Span(seq, false));
    events.OnSpan(run, Span(seq, true));
  }
  EXPECT_LE(events.retained_bytes(run), limits.max_bytes_per_run);
  EXPECT_LE(events.retained_events(run), limits.max_events_per_run);
  EXPECT_GT(events.evicted_events(), 300'000);
  EXPECT_LE(events.total_bytes(), limits.max_total_bytes);
  // Span ids kept for log attribution: the open root plus the most recent closed spans only.
  EXPECT_LE(events.span_ids_kept(run), limits.closed_span_ids_kept + 1);
}

TEST(RunEventsTest, LogsNameTheirOpenOrRecentlyClosedSpan) {
  EventLogLimits limits;
  limits.closed_span_ids_kept = 8;
  RunEvents events(nullptr, limits);
  RunId run{3};
  events.OnSpan(run, Span(0, false));  // the root stays open
  for (int64_t seq = 1; seq <= 100; ++seq) events.OnSpan(run, Span(seq, true));
  events.OnSpan(run, Span(101, false));
  events.OnLog(run, Log(0, "root line\n"));
  events.OnLog(run, Log(101, "open step\n"));
  events.OnLog(run, Log(100, "late line of a just-closed step\n"));
  events.OnLog(run, Log(5, "line of a long-closed step\n"));
  EXPECT_EQ(events.span_ids_kept(run), 8u + 2u);

  auto rec = std::make_shared<Recorder>();
  ASSERT_TRUE(events.Subscribe(run, -1, rec, 10).ok());
  std::vector<std::string> logs;
  for (auto& [name, data] : rec->events) {
    if (name == "log") logs.push_back(data);
  }
  ASSERT_EQ(logs.size(), 4u);
  EXPECT_NE(logs[0].find(R"("span_id":"span-0")"), std::string::npos) << logs[0];
  EXPECT_NE(logs[1].find(R"("span_id":"span-101")"), std::string::npos) << logs[1];
  EXPECT_NE(logs[2].find(R"("span_id":"span-100")"), std::string::npos) << logs[2];
  EXPECT_NE(logs[3].find(R"("span_id":null)"), std::string::npos) << logs[3];
}

TEST(RunEventsTest, AResumeWithinTheRetainedEventsIsAnExactReplay) {
  EventLogLimits limits;
  limits.max_events_per_run = 100;
  RunEvents events(nullptr, limits);
  RunId run{9};
  for (int64_t seq = 0; seq < 1000; ++seq) events.OnSpan(run, Span(seq, true));
  EXPECT_EQ(events.retained_events(run), 100u);
  auto rec = std::make_shared<Recorder>();
  ASSERT_TRUE(events.Subscribe(run, 950, rec, 10).ok());  // still retained: exact replay
  EXPECT_EQ(rec->events.size(), 50u);
}

TEST(RunEventsTest, FinishedRunsKeepOnlyASmallBudgetAndResumeFromTheStoreBeyondIt) {
  EventLogLimits limits;
  limits.max_finished_bytes = 1u << 20;
  RunEvents events(nullptr, limits);
  for (int64_t id = 1; id <= 20; ++id) {
    RunId run{id};
    for (int64_t seq = 0; seq < 2000; ++seq) events.OnSpan(run, Span(seq, true));
    store::RunRecord rec;
    rec.id = run;
    rec.status = RunStatus::kOk;
    events.OnStatus(rec);
  }
  size_t retained = 0;
  for (int64_t id = 1; id <= 20; ++id) retained += events.retained_bytes(RunId{id});
  EXPECT_LE(retained, limits.max_finished_bytes);
  EXPECT_EQ(events.total_bytes(), retained);
  EXPECT_GT(events.retained_events(RunId{20}), 0u);  // the newest is kept
  EXPECT_EQ(events.retained_events(RunId{1}), 0u);   // the oldest went first
}

}  // namespace
}  // namespace hero::core
