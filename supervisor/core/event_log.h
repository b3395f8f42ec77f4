// EventLog: one run's Server-Sent Events (span, log, status, end) with per-run increasing ids,
// kept in memory (bounded) so a client can resume with Last-Event-ID; RunEvents: the logs of
// every live run plus the most recent finished ones, and the snapshot path from the store for
// runs without a log. Loop thread only. Depends on api/sse.h (the stream interface), store.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "span_listener/span_assembler.h"
#include "supervisor/api/sse.h"
#include "supervisor/base/ids.h"
#include "supervisor/store/store.h"

namespace hero::core {

// Bytes are what an event really costs in memory (its strings' capacity plus the entry), so
// the bounds bound the daemon's RSS. A client that falls further behind resumes from a store
// snapshot (`reset`), so these bound memory, never what a client can see.
struct EventLogLimits {
  size_t max_bytes_per_run = 8u << 20;    // retained event bytes per run
  size_t max_events_per_run = 50'000;     // retained events per run
  size_t finished_runs_kept = 200;        // logs of finished runs kept for exact resume
  size_t max_finished_bytes = 16u << 20;  // ... and their bytes together (oldest go first)
  size_t max_total_bytes = 128u << 20;    // all logs together; finished ones evicted first
  size_t closed_span_ids_kept = 4096;     // per live run, for logs that arrive after their span
};

// The span row JSON of an SSE `span` event: WriteSpanNode's object without logs/children.
std::string SpanRowJson(const store::SpanRow& s);
std::string LogEventJson(std::string_view span_id, int64_t ts_us, std::string_view stream,
                         std::string_view text);

class EventLog {
 public:
  struct Event {
    int64_t id;
    std::string name;
    std::string data;
  };

  explicit EventLog(RunId run) : run_(run) {}

  // Assigns the next id (1, 2, ...), retains the event and sends it to every subscriber.
  // Subscribers whose Send fails are forgotten. Returns the id.
  int64_t Append(std::string name, std::string data);
  // True if every event after `last_id` is still retained (last_id < 0: from the start).
  bool CanResumeFrom(int64_t last_id) const;
  // Sends the retained events with id > last_id, then keeps the stream for live events; an
  // ended log closes the stream after the replay. Precondition: CanResumeFrom(last_id).
  void Subscribe(std::shared_ptr<api::SseStream> stream, int64_t last_id);
  // The run ended (`end` was appended): closes every subscriber.
  void End();
  // Drops the oldest events until at most `bytes` are retained; returns how many dropped.
  size_t TrimTo(size_t bytes, size_t events);

  RunId run() const { return run_; }
  bool ended() const { return ended_; }
  int64_t last_id() const { return next_id_ - 1; }
  size_t bytes() const { return bytes_; }
  size_t events() const { return events_.size(); }
  size_t subscribers() const { return subs_.size(); }

 private:
  RunId run_;
  int64_t next_id_ = 1;
  std::deque<Event> events_;
  size_t bytes_ = 0;
  bool ended_ = false;
  std::vector<std::shared_ptr<api::SseStream>> subs_;
};

// The per-run logs. Feed it a run's notifications (OnQueued/OnSpan/OnLog/OnStatus) and it
// appends the SSE events; Subscribe serves a client (live log, or a snapshot from the store).
class RunEvents {
 public:
  RunEvents(store::Store* store, EventLogLimits limits) : store_(store), limits_(limits) {}

  void OnSpan(RunId run, const spans::SpanRecord& span);
  void OnLog(RunId run, const spans::LogRecord& log);
  // Any record change (queued, running, terminal). A terminal record also appends `end`
  // ({"status","reason","exit_code"}) and ends the log.
  void OnStatus(const store::RunRecord& rec);

  // Backend::SubscribeRunEvents semantics. `known_max_id`: the highest run id that may exist
  // (larger ids are kNotFound at once; smaller unknown ones get an `error` event).
  Status Subscribe(RunId run, int64_t last_event_id, std::shared_ptr<api::SseStream> stream,
                   int64_t known_max_id);

  // Drops a run's log (retention deleted the run): later subscribers get the store's answer.
  void Forget(RunId run);

  int64_t span_events() const { return span_events_; }
  // Memory accounting, for /metrics and tests: bytes of one run's retained events and how
  // many span ids it keeps for log attribution.
  size_t retained_bytes(RunId run) const;
  size_t retained_events(RunId run) const;
  size_t span_ids_kept(RunId run) const;
  size_t total_bytes() const { return total_bytes_; }
  int64_t evicted_events() const { return evicted_events_; }
  size_t live_logs() const { return logs_.size(); }

 private:
  EventLog* LogFor(RunId run);
  void EnforceBudget(EventLog* growing);
  // Drops the log of the oldest finished run (finished_.front()); returns the bytes it held
  // (0 if it was already gone) and sets `*dropped` to it when given.
  size_t EvictOldestFinished(const EventLog** dropped = nullptr);
  // Spans, logs and status read from the store (+ end if terminal, with ids 1..n when
  // `with_ids`; no ids and no end otherwise); then `then(record)` runs (on success).
  void SendSnapshot(RunId run, std::shared_ptr<api::SseStream> stream, bool with_ids,
                    std::function<void(const store::RunRecord&)> then);

  store::Store* store_;
  EventLogLimits limits_;
  std::unordered_map<int64_t, std::unique_ptr<EventLog>> logs_;
  // Live runs: seq -> wire id of every open span and of the most recently closed ones
  // (bounded: a 10^6-span run must not keep 10^6 ids).
  struct SpanIds {
    std::unordered_map<int64_t, std::string> by_seq;
    std::deque<int64_t> closed;  // oldest first
  };
  std::unordered_map<int64_t, SpanIds> span_ids_;
  std::deque<int64_t> finished_;  // oldest first
  size_t total_bytes_ = 0;
  int64_t span_events_ = 0;
  int64_t evicted_events_ = 0;
};

}  // namespace hero::core
