// RunService implementation. A run is in active_ from its queued record until its terminal
// record is committed (Supervisor's finished callback); waiters live inside their run's entry.
#include "supervisor/core/run_service.h"

#include "supervisor/base/run_status.h"

namespace hero::core {

RunService::RunService(uv_loop_t* loop, Supervisor* sup, store::Store* store, RunEvents* events,
                       RunQueue::Limits limits)
    : loop_(loop), sup_(sup), store_(store), events_(events), queue_(std::move(limits)) {}

RunService::~RunService() = default;

void RunService::Submit(RunRequest req, int depth, RecordFn done) {
  if (!accepting_) {
    done(Unavailable("daemon is shutting down"));
    return;
  }
  auto owned = std::make_shared<RunRequest>(std::move(req));
  sup_->CreateRunRecord(*owned, [this, owned, depth,
                               done = std::move(done)](Result<store::RunRecord> rec) mutable {
    if (!rec.ok()) {
      done(rec.status());
      return;
    }
    max_run_id_ = std::max(max_run_id_, rec->id.value);
    if (!accepting_) {
      // Shutdown began while the record was being written: it never starts.
      store::RunRecord r = std::move(rec).value();
      r.status = RunStatus::kInterrupted;
      r.reason = "daemon stopped before the run started";
      r.ended_us = WallMicrosNow();
      store_->UpdateRun(r);
      events_->OnStatus(r);
      done(Unavailable("daemon is shutting down"));
      return;
    }
    ActiveRun& a = active_[rec->id.value];
    a.rec = *rec;
    a.req = std::make_unique<RunRequest>(std::move(*owned));
    a.depth = depth;
    queue_.Push(rec->id, rec->flow_name);
    events_->OnStatus(a.rec);
    done(*rec);
    Pump();
  });
}

void RunService::Pump() {
  if (pumping_) return;  // StartCreatedRun never finishes a run synchronously, but be safe
  pumping_ = true;
  while (accepting_) {
    auto next = queue_.PopRunnable();
    if (!next) break;
    auto it = active_.find(next->value);
    if (it == active_.end() || !it->second.req) continue;
    std::unique_ptr<RunRequest> req = std::move(it->second.req);
    it->second.started = true;
    sup_->StartCreatedRun(it->second.rec, std::move(*req), this,
                          [this](const store::RunRecord& rec) { OnFinished(rec); });
  }
  pumping_ = false;
}

const store::RunRecord* RunService::Active(RunId id) const {
  auto it = active_.find(id.value);
  return it == active_.end() ? nullptr : &it->second.rec;
}

int RunService::DepthOf(RunId id) const {
  auto it = active_.find(id.value);
  return it == active_.end() ? -1 : it->second.depth;
}

int RunService::ChildrenOf(RunId id) const {
  auto it = active_.find(id.value);
  return it == active_.end() ? 0 : it->second.children;
}

void RunService::NoteChild(RunId parent) {
  if (auto it = active_.find(parent.value); it != active_.end()) ++it->second.children;
}

void RunService::Get(RunId id, RecordFn done) {
  if (const store::RunRecord* r = Active(id)) {
    done(*r);
    return;
  }
  store_->GetRun(id, [id, done = std::move(done)](Result<store::RunRecord> rec) {
    if (!rec.ok() && rec.status().code() == StatusCode::kNotFound) {
      done(NotFound("run " + std::to_string(id.value) + " not found"));
      return;
    }
    done(std::move(rec));
  });
}

void RunService::Wait(RunId id, std::chrono::milliseconds timeout, RecordFn done) {
  auto it = active_.find(id.value);
  if (it == active_.end() || timeout.count() <= 0) {
    Get(id, std::move(done));
    return;
  }
  auto w = std::make_unique<Waiter>();
  w->svc = this;
  w->run = id;
  w->done = std::move(done);
  uv_timer_init(loop_, w->timer.Allocate(w.get()));
  w->timer.Initialized();
  uv_timer_start(w->timer.get(), &RunService::OnWaitTimeout, static_cast<uint64_t>(timeout.count()), 0);
  it->second.waiters.push_back(std::move(w));
}

void RunService::OnWaitTimeout(uv_timer_t* t) {
  auto* w = static_cast<Waiter*>(t->data);
  if (!w) return;
  RunService* svc = w->svc;
  auto it = svc->active_.find(w->run.value);
  if (it == svc->active_.end()) return;
  auto& list = it->second.waiters;
  for (auto wi = list.begin(); wi != list.end(); ++wi) {
    if (wi->get() != w) continue;
    std::unique_ptr<Waiter> mine = std::move(*wi);
    list.erase(wi);
    store::RunRecord rec = it->second.rec;
    RecordFn done = std::move(mine->done);
    mine.reset();  // closes the timer (freed in its close callback)
    done(std::move(rec));
    return;
  }
}

void RunService::Cancel(RunId id, RecordFn done) {
  auto it = active_.find(id.value);
  if (it == active_.end()) {
    Get(id, std::move(done));  // terminal (or unknown): nothing to cancel
    return;
  }
  if (queue_.Remove(id)) {
    store::RunRecord r = it->second.rec;
    r.status = RunStatus::kCancelled;
    r.reason = "cancelled before it started";
    r.ended_us = WallMicrosNow();
    it->second.req.reset();
    store_->UpdateRun(r, [this, r, done = std::move(done)](Status s) mutable {
      if (!s.ok()) {
        done(s);
        return;
      }
      OnFinished(r);
      done(r);
    });
    return;
  }
  (void)sup_->Cancel(id);  // kNotFound only in the instant between start and registration
  done(it->second.rec);
}

void RunService::BeginShutdown() {
  accepting_ = false;
  std::vector<RunId> queued;
  for (auto& [id, a] : active_) {
    if (a.req) queued.push_back(RunId{id});
  }
  for (RunId id : queued) {
    queue_.Remove(id);
    auto it = active_.find(id.value);
    store::RunRecord r = it->second.rec;
    r.status = RunStatus::kInterrupted;
    r.reason = "daemon stopped before the run started";
    r.ended_us = WallMicrosNow();
    it->second.req.reset();
    store_->UpdateRun(r);
    // Counted as finished now: nothing else will end it. The queue never counted it running.
    events_->OnStatus(r);
    ++finished_by_status_[std::string(RunStatusName(r.status))];
    auto waiters = std::move(it->second.waiters);
    active_.erase(it);
    for (auto& w : waiters) {
      RecordFn fn = std::move(w->done);
      w.reset();
      fn(r);
    }
  }
}

void RunService::OnSpan(RunId run, const spans::SpanRecord& span) { events_->OnSpan(run, span); }

void RunService::OnLog(RunId run, const spans::LogRecord& log) { events_->OnLog(run, log); }

void RunService::OnStatus(const store::RunRecord& rec) {
  if (IsTerminal(rec.status)) return;  // OnFinished handles the end, after the commit
  if (auto it = active_.find(rec.id.value); it != active_.end()) it->second.rec = rec;
  events_->OnStatus(rec);
}

void RunService::OnFinished(const store::RunRecord& rec) {
  auto it = active_.find(rec.id.value);
  if (it == active_.end()) return;
  if (it->second.started) queue_.Finished(it->second.rec.flow_name);
  auto waiters = std::move(it->second.waiters);
  active_.erase(it);
  ++finished_by_status_[std::string(RunStatusName(rec.status))];
  events_->OnStatus(rec);
  for (auto& w : waiters) {
    RecordFn fn = std::move(w->done);
    w.reset();
    fn(rec);
  }
  Pump();
}

}  // namespace hero::core
