// RunService: the daemon's runs: queues them (RunQueue), starts them on the Supervisor when a
// slot frees, tracks the latest record of every queued or running run, answers waits with
// timeouts, cancels (queued or running), and feeds every notification to RunEvents (SSE).
// Loop thread only. Depends on Supervisor, RunQueue, RunEvents, store.
#pragma once

#include <uv.h>

#include <chrono>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "supervisor/core/event_log.h"
#include "supervisor/core/run_queue.h"
#include "supervisor/core/supervisor.h"
#include "supervisor/core/uv_handle.h"

namespace hero::core {

// Retention of finished runs (see RunService::StartRetention).
struct RetentionOptions {
  std::chrono::microseconds max_age{0};  // delete terminal runs that ended longer ago; 0 = keep
  int64_t max_bytes = 0;                 // then the oldest while the database is larger; 0 = none
  // Between passes; the first pass runs after min(interval, 10 s).
  std::chrono::milliseconds interval{600'000};
  std::string runs_dir;   // $DATA/runs: <id>/ of a deleted run is removed
  std::string work_root;  // the per-run workdirs: <id>/ is removed too (a crash may leave one)
};

class RunService final : public RunObserver {
 public:
  using RecordFn = std::function<void(Result<store::RunRecord>)>;

  RunService(uv_loop_t* loop, Supervisor* sup, store::Store* store, RunEvents* events,
             RunQueue::Limits limits);
  ~RunService() override;

  // Creates the run's record (`queued`, durable) and queues it; `done` gets that record. It
  // starts when the queue allows. `depth`: 0 for a top-level run, parent's + 1 for a child.
  // kUnavailable "daemon is shutting down" after BeginShutdown.
  void Submit(RunRequest req, int depth, RecordFn done);
  // The current record: from memory for queued/running runs, else from the store.
  // kNotFound "run N not found".
  void Get(RunId id, RecordFn done);
  // The record once the run is terminal, or after `timeout` (then still queued/running).
  void Wait(RunId id, std::chrono::milliseconds timeout, RecordFn done);
  // Cancels a queued run at once (it ends `cancelled`) or asks a running one to stop (the
  // answer is the record at that moment, still `running`); a terminal run is left as is.
  void Cancel(RunId id, RecordFn done);

  // 1-based position of a queued run; 0 if it is not queued.
  int QueuePosition(RunId id) const { return queue_.Position(id); }
  // Depth and child-run count of a queued/running run; -1 depth if it is not active here.
  int DepthOf(RunId id) const;
  int ChildrenOf(RunId id) const;
  void NoteChild(RunId parent);
  const store::RunRecord* Active(RunId id) const;

  // Starts the retention timer: each pass asks the store to PruneRuns (terminal runs only,
  // and never a run this service still tracks), then removes the run directories of the
  // deleted ids on the libuv threadpool and prints one line with the counts to stderr. A pass
  // never overlaps the previous one. No-op when both limits are 0. Stopped by BeginShutdown.
  void StartRetention(RetentionOptions opts);
  // Runs deleted by retention in this process.
  int64_t retention_runs_deleted() const { return retention_deleted_; }
  // Called on the loop thread with the ids of each pass's deleted runs (after their rows are
  // gone, before their directories are), e.g. to forget in-memory state of those runs.
  void set_on_pruned(std::function<void(const std::vector<RunId>&)> fn) {
    on_pruned_ = std::move(fn);
  }

  // Stop intake; queued runs end `interrupted` (they never started). Stops retention.
  void BeginShutdown();
  bool accepting() const { return accepting_; }

  size_t queued() const { return queue_.queued(); }
  int running() const { return queue_.running(); }
  // Highest run id created by this process or seen at start (for SSE 404s).
  int64_t max_run_id() const { return max_run_id_; }
  void NoteExistingMaxId(int64_t id) { max_run_id_ = std::max(max_run_id_, id); }
  const std::map<std::string, int64_t>& finished_by_status() const { return finished_by_status_; }

  // RunObserver (the Supervisor's notifications for every run this service started).
  void OnSpan(RunId run, const spans::SpanRecord& span) override;
  void OnLog(RunId run, const spans::LogRecord& log) override;
  void OnStatus(const store::RunRecord& rec) override;

 private:
  struct Waiter {
    RunService* svc = nullptr;
    RunId run;
    RecordFn done;
    UvHandle<uv_timer_t> timer;
  };
  struct ActiveRun {
    store::RunRecord rec;
    std::unique_ptr<RunRequest> req;  // while queued
    bool started = false;             // handed to the Supervisor (holds a queue slot)
    int depth = 0;
    int children = 0;
    std::list<std::unique_ptr<Waiter>> waiters;
  };

  // Starts queued runs while slots are free, for at most kPumpBudget per loop turn: a burst of
  // 1,000 submissions would otherwise spawn them all in one callback and stall every socket
  // for seconds. The rest wait for the next turn (a 0 ms timer, after one I/O poll).
  void Pump();
  void SchedulePump();
  static void OnPumpTimer(uv_timer_t* t);
  void OnFinished(const store::RunRecord& rec);
  static void OnWaitTimeout(uv_timer_t* t);
  static void OnRetentionTick(uv_timer_t* t);
  void RetentionPass();
  void OnPruned(Result<store::PruneResult> r);

  uv_loop_t* loop_;
  Supervisor* sup_;
  store::Store* store_;
  RunEvents* events_;
  RunQueue queue_;
  std::unordered_map<int64_t, ActiveRun> active_;
  std::map<std::string, int64_t> finished_by_status_;
  int64_t max_run_id_ = 0;
  bool accepting_ = true;
  bool pumping_ = false;
  UvHandle<uv_timer_t> pump_timer_;
  bool pump_scheduled_ = false;

  RetentionOptions retention_;
  UvHandle<uv_timer_t> retention_timer_;
  bool retention_busy_ = false;  // a pass is in the store or removing directories
  int64_t retention_deleted_ = 0;
  std::function<void(const std::vector<RunId>&)> on_pruned_;
  // Store callbacks may run after this service is gone (~Store drains them): they check it.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace hero::core
