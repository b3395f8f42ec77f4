// EventLog / RunEvents implementation. Spans are full-row upserts keyed by seq, so a snapshot
// followed by later live events converges on the same tree a live client saw.
#include "supervisor/core/event_log.h"

#include <algorithm>

#include "supervisor/base/json_writer.h"
#include "supervisor/base/run_status.h"
#include "supervisor/core/run_view.h"

namespace hero::core {
namespace {

std::string EndJson(const store::RunRecord& r) {
  JsonWriter w;
  w.BeginObject()
      .Field("status", RunStatusName(r.status))
      .Field("reason", r.reason)
      .Field("exit_code", ExitCodeForStatus(r.status))
      .EndObject();
  return w.Take();
}

std::string RecordJson(const store::RunRecord& r) {
  JsonWriter w;
  WriteRunRecord(w, r);
  return w.Take();
}

}  // namespace

std::string SpanRowJson(const store::SpanRow& s) {
  JsonWriter w;
  w.BeginObject();
  WriteSpanFields(w, s);
  w.EndObject();
  return w.Take();
}

std::string LogEventJson(std::string_view span_id, int64_t ts_us, std::string_view stream,
                         std::string_view text) {
  JsonWriter w;
  w.BeginObject();
  w.Key("span_id");
  if (span_id.empty()) {
    w.Null();
  } else {
    w.String(span_id);
  }
  w.Field("ts_us", ts_us).Field("stream", stream).Field("text", text).EndObject();
  return w.Take();
}

// --- EventLog ---

namespace {
size_t Cost(const std::string& name, const std::string& data) {
  return sizeof(EventLog::Event) + name.capacity() + data.capacity() + 32;  // + malloc headers
}
}  // namespace

int64_t EventLog::Append(std::string name, std::string data) {
  int64_t id = next_id_++;
  data.shrink_to_fit();  // JsonWriter grows by doubling: up to half of it would be slack
  for (size_t i = 0; i < subs_.size();) {
    if (subs_[i]->Send(id, name, data)) {
      ++i;
    } else {
      subs_[i] = std::move(subs_.back());
      subs_.pop_back();
    }
  }
  bytes_ += Cost(name, data);
  events_.push_back({id, std::move(name), std::move(data)});
  return id;
}

bool EventLog::CanResumeFrom(int64_t last_id) const {
  if (last_id >= next_id_ - 1) return last_id <= next_id_ - 1;  // nothing missed (or a bogus id)
  int64_t first = events_.empty() ? next_id_ : events_.front().id;
  return std::max<int64_t>(last_id, 0) + 1 >= first;
}

void EventLog::Subscribe(std::shared_ptr<api::SseStream> stream, int64_t last_id) {
  auto it = std::lower_bound(events_.begin(), events_.end(), last_id + 1,
                             [](const Event& e, int64_t id) { return e.id < id; });
  for (; it != events_.end(); ++it) {
    if (!stream->Send(it->id, it->name, it->data)) return;
  }
  if (ended_) {
    stream->Close();
    return;
  }
  subs_.push_back(std::move(stream));
}

void EventLog::End() {
  ended_ = true;
  for (auto& s : subs_) s->Close();
  subs_.clear();
}

size_t EventLog::TrimTo(size_t bytes, size_t events) {
  size_t dropped = 0;
  while (!events_.empty() && (bytes_ > bytes || events_.size() > events)) {
    const Event& e = events_.front();
    bytes_ -= Cost(e.name, e.data);
    events_.pop_front();
    ++dropped;
  }
  return dropped;
}

// --- RunEvents ---

EventLog* RunEvents::LogFor(RunId run) {
  auto& slot = logs_[run.value];
  if (!slot) slot = std::make_unique<EventLog>(run);
  return slot.get();
}

void RunEvents::EnforceBudget(EventLog* growing) {
  size_t before = growing->bytes();
  evicted_events_ +=
      static_cast<int64_t>(growing->TrimTo(limits_.max_bytes_per_run, limits_.max_events_per_run));
  total_bytes_ -= before - growing->bytes();
  while (total_bytes_ > limits_.max_total_bytes && !finished_.empty()) EvictOldestFinished();
  if (total_bytes_ > limits_.max_total_bytes) {
    // Only live logs left: the growing one gives back half of its share.
    before = growing->bytes();
    evicted_events_ +=
        static_cast<int64_t>(growing->TrimTo(before / 2, limits_.max_events_per_run));
    total_bytes_ -= before - growing->bytes();
  }
}

size_t RunEvents::EvictOldestFinished(const EventLog** dropped) {
  auto it = logs_.find(finished_.front());
  finished_.pop_front();
  if (it == logs_.end()) return 0;
  size_t bytes = it->second->bytes();
  if (dropped) *dropped = it->second.get();
  total_bytes_ -= bytes;
  logs_.erase(it);
  return bytes;
}

void RunEvents::OnSpan(RunId run, const spans::SpanRecord& span) {
  ++span_events_;
  SpanIds& ids = span_ids_[run.value];
  ids.by_seq.insert_or_assign(span.seq.value, span.span_id);
  if (span.end_us != 0) {  // closed: kept only among the most recent closed_span_ids_kept
    ids.closed.push_back(span.seq.value);
    while (ids.closed.size() > limits_.closed_span_ids_kept) {
      ids.by_seq.erase(ids.closed.front());
      ids.closed.pop_front();
    }
  }
  EventLog* log = LogFor(run);
  size_t before = log->bytes();
  log->Append("span", SpanRowJson(SpanRowFromRecord(span)));
  total_bytes_ += log->bytes() - before;
  EnforceBudget(log);
}

size_t RunEvents::retained_bytes(RunId run) const {
  auto it = logs_.find(run.value);
  return it == logs_.end() ? 0 : it->second->bytes();
}

size_t RunEvents::retained_events(RunId run) const {
  auto it = logs_.find(run.value);
  return it == logs_.end() ? 0 : it->second->events();
}

size_t RunEvents::span_ids_kept(RunId run) const {
  auto it = span_ids_.find(run.value);
  return it == span_ids_.end() ? 0 : it->second.by_seq.size();
}

void RunEvents::OnLog(RunId run, const spans::LogRecord& l) {
  std::string span_id;
  if (auto it = span_ids_.find(run.value); it != span_ids_.end()) {
    if (auto s = it->second.by_seq.find(l.span_seq.value); s != it->second.by_seq.end()) {
      span_id = s->second;
    }
  }
  EventLog* log = LogFor(run);
  size_t before = log->bytes();
  log->Append("log", LogEventJson(span_id, l.ts_us, l.stream, l.text));
  total_bytes_ += log->bytes() - before;
  EnforceBudget(log);
}

void RunEvents::OnStatus(const store::RunRecord& rec) {
  EventLog* log = LogFor(rec.id);
  if (log->ended()) return;
  size_t before = log->bytes();
  log->Append("status", RecordJson(rec));
  if (IsTerminal(rec.status)) {
    log->Append("end", EndJson(rec));
    log->End();
    span_ids_.erase(rec.id.value);
    finished_.push_back(rec.id.value);
  }
  total_bytes_ += log->bytes() - before;
  if (IsTerminal(rec.status)) {
    // A finished run resumes from the store just as well (`reset` + snapshot); its retained
    // log only makes a reconnect exact, so finished logs get a small budget of their own.
    size_t finished_bytes = 0;
    for (int64_t id : finished_) {
      if (auto it = logs_.find(id); it != logs_.end()) finished_bytes += it->second->bytes();
    }
    while (!finished_.empty() && (finished_.size() > limits_.finished_runs_kept ||
                                  finished_bytes > limits_.max_finished_bytes)) {
      const EventLog* dropped = nullptr;
      finished_bytes -= EvictOldestFinished(&dropped);
      if (dropped == log)
        return;  // this run's log alone exceeds the budget: it resumes from the store
    }
  }
  EnforceBudget(log);
}

Status RunEvents::Subscribe(RunId run, int64_t last_event_id,
                            std::shared_ptr<api::SseStream> stream, int64_t known_max_id) {
  auto it = logs_.find(run.value);
  if (it != logs_.end()) {
    EventLog* log = it->second.get();
    if (log->CanResumeFrom(last_event_id)) {
      log->Subscribe(std::move(stream), last_event_id);
      return Status::Ok();
    }
    // The client missed events we no longer hold: start over from a snapshot of the store
    // as of the last event appended so far (the store has every row submitted before a
    // read), then continue with the live events after it.
    stream->Send(-1, "reset",
                 R"({"reason":"events since the given Last-Event-ID are no longer retained"})");
    int64_t upto = log->last_id();
    SendSnapshot(run, stream, false, [this, run, stream, upto](const store::RunRecord& rec) {
      auto again = logs_.find(run.value);
      if (again == logs_.end() || !again->second->CanResumeFrom(upto)) {
        stream->Send(-1, "reset", R"({"reason":"the run's events were evicted; reconnect"})");
        stream->Close();
        return;
      }
      if (again->second->ended() && upto >= again->second->last_id()) {
        // The end was appended before the snapshot was taken: the record read is terminal.
        stream->Send(-1, "end", EndJson(rec));
        stream->Close();
        return;
      }
      again->second->Subscribe(stream, upto);
    });
    return Status::Ok();
  }
  if (run.value > known_max_id || run.value <= 0) {
    return NotFound("run " + std::to_string(run.value) + " not found");
  }
  // No log: the run ended before this process kept one (or long ago). Its events are numbered
  // by the snapshot; a Last-Event-ID from elsewhere cannot be honoured exactly.
  if (last_event_id >= 0) {
    stream->Send(-1, "reset",
                 R"({"reason":"no retained events for this run; full snapshot follows"})");
  }
  SendSnapshot(run, stream, true, [stream](const store::RunRecord&) { stream->Close(); });
  return Status::Ok();
}

void RunEvents::SendSnapshot(RunId run, std::shared_ptr<api::SseStream> stream, bool with_ids,
                             std::function<void(const store::RunRecord&)> then) {
  store_->GetRun(run, [this, run, stream, with_ids,
                       then = std::move(then)](Result<store::RunRecord> rec) mutable {
    if (!rec.ok()) {
      JsonWriter w;
      w.BeginObject()
          .Field("message", rec.status().code() == StatusCode::kNotFound
                                ? "run " + std::to_string(run.value) + " not found"
                                : rec.status().message())
          .EndObject();
      stream->Send(-1, "error", w.str());
      stream->Close();
      return;
    }
    store_->GetSpans(run, [this, run, stream, with_ids, rec = std::move(rec).value(),
                           then =
                               std::move(then)](Result<std::vector<store::SpanRow>> spans) mutable {
      store_->GetLogs(
          run, std::nullopt,
          [stream, with_ids, rec = std::move(rec), spans = std::move(spans),
           then = std::move(then)](Result<std::vector<store::LogRow>> logs) mutable {
            if (!spans.ok() || !logs.ok()) {
              stream->Send(-1, "error", R"({"message":"store read failed"})");
              stream->Close();
              return;
            }
            int64_t id = 0;
            auto next = [&] { return with_ids ? ++id : -1; };
            std::unordered_map<int64_t, std::string> ids;
            for (const auto& s : *spans) {
              ids[s.seq.value] = s.span_id;
              if (!stream->Send(next(), "span", SpanRowJson(s))) return;
            }
            for (const auto& l : *logs) {
              auto f = ids.find(l.span_seq.value);
              if (!stream->Send(
                      next(), "log",
                      LogEventJson(f == ids.end() ? "" : f->second, l.ts_us, l.stream, l.text))) {
                return;
              }
            }
            if (!stream->Send(next(), "status", RecordJson(rec))) return;
            if (with_ids && IsTerminal(rec.status) && !stream->Send(next(), "end", EndJson(rec)))
              return;
            then(rec);
          });
    });
  });
}

void RunEvents::Forget(RunId run) {
  auto it = logs_.find(run.value);
  if (it != logs_.end()) {
    total_bytes_ -= it->second->bytes();
    logs_.erase(it);
  }
  span_ids_.erase(run.value);
  finished_.erase(std::remove(finished_.begin(), finished_.end(), run.value), finished_.end());
}

}  // namespace hero::core
