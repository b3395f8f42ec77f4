// RunQueue implementation: linear scans (the queue is short compared to a run's cost).
#include "supervisor/core/run_queue.h"

namespace hero::core {

void RunQueue::Push(RunId id, std::string flow) { queue_.push_back({id, std::move(flow)}); }

bool RunQueue::Remove(RunId id) {
  for (auto it = queue_.begin(); it != queue_.end(); ++it) {
    if (it->id == id) {
      queue_.erase(it);
      return true;
    }
  }
  return false;
}

int RunQueue::Position(RunId id) const {
  int pos = 1;
  for (const auto& e : queue_) {
    if (e.id == id) return pos;
    ++pos;
  }
  return 0;
}

int RunQueue::LimitFor(const std::string& flow) const {
  auto it = limits_.flow_overrides.find(flow);
  return it != limits_.flow_overrides.end() ? it->second : limits_.per_flow;
}

std::optional<RunId> RunQueue::PopRunnable() {
  if (running_ >= limits_.concurrency) return std::nullopt;
  for (auto it = queue_.begin(); it != queue_.end(); ++it) {
    int limit = LimitFor(it->flow);
    if (limit > 0 && running_by_flow_[it->flow] >= limit) continue;  // later flows may go first
    RunId id = it->id;
    ++running_;
    ++running_by_flow_[it->flow];
    queue_.erase(it);
    return id;
  }
  return std::nullopt;
}

void RunQueue::Finished(const std::string& flow) {
  if (running_ > 0) --running_;
  auto it = running_by_flow_.find(flow);
  if (it != running_by_flow_.end() && --it->second <= 0) running_by_flow_.erase(it);
}

}  // namespace hero::core
