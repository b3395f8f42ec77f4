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
#include <unordered_map>

#include "supervisor/core/event_log.h"
#include "supervisor/core/run_queue.h"
#include "supervisor/core/supervisor.h"
#include "supervisor/core/uv_handle.h"

namespace hero::core {

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

  // Stop intake; queued runs end `interrupted` (they never started).
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
    bool started = false;  // handed to the Supervisor (holds a queue slot)
    int depth = 0;
    int children = 0;
    std::list<std::unique_ptr<Waiter>> waiters;
  };

  void Pump();
  void OnFinished(const store::RunRecord& rec);
  static void OnWaitTimeout(uv_timer_t* t);

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
};

}  // namespace hero::core
