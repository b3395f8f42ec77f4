// RunQueue: the FIFO of runs waiting for a slot, with a global concurrency limit and an
// optional per-flow limit. A plain value type (no libuv, no store): RunService asks it which
// run may start next and tells it when runs start and finish. Loop thread only.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <optional>
#include <string>

#include "supervisor/base/ids.h"

namespace hero::core {

class RunQueue {
 public:
  struct Limits {
    int concurrency = 8;                        // runs running at once, all flows together (>= 1)
    int per_flow = 0;                           // runs of one flow at once; 0 = no limit
    std::map<std::string, int> flow_overrides;  // per-flow limits that replace per_flow
  };

  explicit RunQueue(Limits limits) : limits_(std::move(limits)) {}

  void Push(RunId id, std::string flow);
  // Removes a queued run (cancel). False if it is not queued.
  bool Remove(RunId id);
  // 1-based position among the queued runs (1 = next); 0 if not queued.
  int Position(RunId id) const;
  // The first queued run (FIFO) that the limits let start now, removed from the queue and
  // counted as running; nullopt if none may start.
  std::optional<RunId> PopRunnable();
  // A run that PopRunnable returned has ended: frees its slot (and its flow's).
  void Finished(const std::string& flow);

  size_t queued() const { return queue_.size(); }
  int running() const { return running_; }
  const Limits& limits() const { return limits_; }

 private:
  struct Entry {
    RunId id;
    std::string flow;
  };
  int LimitFor(const std::string& flow) const;

  Limits limits_;
  std::list<Entry> queue_;
  int running_ = 0;
  std::map<std::string, int> running_by_flow_;
};

}  // namespace hero::core
