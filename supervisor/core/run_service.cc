// RunService implementation. A run is in active_ from its queued record until its terminal
// record is committed (Supervisor's finished callback); waiters live inside their run's entry.
#include "supervisor/core/run_service.h"

#include <cstdio>
#include <filesystem>

#include "supervisor/base/clock.h"
#include "supervisor/base/run_status.h"
#include "supervisor/loop/work.h"

namespace hero::core {
namespace {
// Run starts (spawn, files, cgroup) per loop turn; ~1-2 ms each on this host.
constexpr auto kPumpBudget = std::chrono::milliseconds(4);
}  // namespace

RunService::RunService(uv_loop_t* loop, Supervisor* sup, store::Store* store, RunEvents* events,
                       RunQueue::Limits limits)
    : loop_(loop), sup_(sup), store_(store), events_(events), queue_(std::move(limits)) {}

RunService::~RunService() { *alive_ = false; }

void RunService::Submit(RunRequest req, int depth, RecordFn done) {
  if (!accepting_) {
    done(Unavailable("daemon is shutting down"));
    return;
  }
  auto owned = std::make_shared<RunRequest>(std::move(req));
  sup_->CreateRunRecord(
      *owned, [this, owned, depth, done = std::move(done)](Result<store::RunRecord> rec) mutable {
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
  const auto t0 = std::chrono::steady_clock::now();
  bool started = false;
  while (accepting_) {
    if (started && std::chrono::steady_clock::now() - t0 >= kPumpBudget) {
      SchedulePump();
      break;
    }
    auto next = queue_.PopRunnable();
    if (!next) break;
    auto it = active_.find(next->value);
    if (it == active_.end() || !it->second.req) continue;
    std::unique_ptr<RunRequest> req = std::move(it->second.req);
    it->second.started = true;
    sup_->StartCreatedRun(it->second.rec, std::move(*req), this,
                          [this](const store::RunRecord& rec) { OnFinished(rec); });
    started = true;
  }
  pumping_ = false;
}

void RunService::SchedulePump() {
  if (pump_scheduled_ || !accepting_) return;
  if (!pump_timer_) {
    uv_timer_init(loop_, pump_timer_.Allocate(this));
    pump_timer_.Initialized();
  }
  pump_scheduled_ = true;
  uv_timer_start(pump_timer_.get(), &RunService::OnPumpTimer, 0, 0);
}

void RunService::OnPumpTimer(uv_timer_t* t) {
  auto* self = static_cast<RunService*>(t->data);
  if (!self) return;
  self->pump_scheduled_ = false;
  self->Pump();
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
  uv_timer_start(w->timer.get(), &RunService::OnWaitTimeout, static_cast<uint64_t>(timeout.count()),
                 0);
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

void RunService::StartRetention(RetentionOptions opts) {
  if (opts.max_age.count() <= 0 && opts.max_bytes <= 0) return;
  retention_ = std::move(opts);
  if (retention_.interval.count() <= 0) retention_.interval = std::chrono::milliseconds(600'000);
  uv_timer_init(loop_, retention_timer_.Allocate(this));
  retention_timer_.Initialized();
  uv_unref(reinterpret_cast<uv_handle_t*>(retention_timer_.get()));  // never keeps the loop up
  auto interval = static_cast<uint64_t>(retention_.interval.count());
  uv_timer_start(retention_timer_.get(), &RunService::OnRetentionTick,
                 std::min<uint64_t>(interval, 10'000), interval);
}

void RunService::OnRetentionTick(uv_timer_t* t) {
  auto* self = static_cast<RunService*>(t->data);
  if (self) self->RetentionPass();
}

void RunService::RetentionPass() {
  if (retention_busy_ || !accepting_) return;
  retention_busy_ = true;
  store::PruneOptions o;
  if (retention_.max_age.count() > 0) {
    o.older_than_us = WallMicrosNow() - retention_.max_age.count();
  }
  o.max_bytes = retention_.max_bytes;
  // Runs this service tracks are queued/running, or terminal with their final record still
  // being committed: never delete those (the store skips queued/running by itself).
  for (const auto& [id, a] : active_) o.keep.push_back(RunId{id});
  store_->PruneRuns(std::move(o), [this, alive = alive_](Result<store::PruneResult> r) {
    if (*alive) OnPruned(std::move(r));
  });
}

void RunService::OnPruned(Result<store::PruneResult> r) {
  if (!r.ok()) {
    // The store logged the error; the next pass tries again.
    std::fprintf(stderr, "hero_logic: retention: pass failed: %s\n", r.status().message().c_str());
    retention_busy_ = false;
    return;
  }
  retention_deleted_ += r->runs_deleted;
  if (on_pruned_ && !r->ids.empty()) on_pruned_(r->ids);
  // Directory removal can take long (a flow may leave many files): the libuv threadpool does
  // it. remove_all unlinks symlinks instead of following them, so nothing outside the run's
  // directory is touched. Ids are never reused (AUTOINCREMENT), so no new run owns these.
  struct Work {
    store::PruneResult result;
    std::string runs_dir, work_root;
    int64_t dirs_removed = 0, dir_errors = 0;
  };
  auto w = std::make_shared<Work>();
  w->result = std::move(r).value();
  w->runs_dir = retention_.runs_dir;
  w->work_root = retention_.work_root;
  loop::QueueWork(
      loop_,
      [w] {
        for (RunId id : w->result.ids) {
          for (const std::string* root : {&w->runs_dir, &w->work_root}) {
            if (root->empty()) continue;
            std::error_code ec;
            std::string dir = *root + "/" + std::to_string(id.value);
            std::uintmax_t n = std::filesystem::remove_all(dir, ec);
            if (ec) {
              ++w->dir_errors;
            } else if (n > 0 && root == &w->runs_dir) {
              ++w->dirs_removed;
            }
          }
        }
      },
      [w, this, alive = alive_] {
        const store::PruneResult& res = w->result;
        std::string notes;
        if (w->dir_errors) {
          notes += "; " + std::to_string(w->dir_errors) + " dir(s) could not be removed";
        }
        if (!res.error.ok()) notes += "; stopped early: " + res.error.message();
        std::fprintf(stderr,
                     "hero_logic: retention: deleted %lld run(s), removed %lld run dir(s); "
                     "database %.1f MiB -> %.1f MiB used%s\n",
                     static_cast<long long>(res.runs_deleted),
                     static_cast<long long>(w->dirs_removed),
                     static_cast<double>(res.bytes_before) / (1 << 20),
                     static_cast<double>(res.bytes_after) / (1 << 20), notes.c_str());
        if (*alive) retention_busy_ = false;
      });
}

void RunService::BeginShutdown() {
  retention_timer_.Close();
  pump_timer_.Close();
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
