// Run status names and exit codes.
#include "supervisor/base/run_status.h"

namespace hero {

std::string_view RunStatusName(RunStatus s) {
  switch (s) {
    case RunStatus::kQueued:
      return "queued";
    case RunStatus::kRunning:
      return "running";
    case RunStatus::kOk:
      return "ok";
    case RunStatus::kFailed:
      return "failed";
    case RunStatus::kTimedOut:
      return "timed_out";
    case RunStatus::kCancelled:
      return "cancelled";
    case RunStatus::kKilled:
      return "killed";
    case RunStatus::kInterrupted:
      return "interrupted";
  }
  return "failed";
}

std::optional<RunStatus> ParseRunStatus(std::string_view s) {
  for (RunStatus r :
       {RunStatus::kQueued, RunStatus::kRunning, RunStatus::kOk, RunStatus::kFailed,
        RunStatus::kTimedOut, RunStatus::kCancelled, RunStatus::kKilled, RunStatus::kInterrupted}) {
    if (RunStatusName(r) == s) return r;
  }
  return std::nullopt;
}

int ExitCodeForStatus(RunStatus s) {
  switch (s) {
    case RunStatus::kOk:
      return 0;
    case RunStatus::kFailed:
      return 1;
    case RunStatus::kTimedOut:
      return 124;
    case RunStatus::kKilled:
      return 125;
    case RunStatus::kInterrupted:
      return 125;
    case RunStatus::kCancelled:
      return 130;
    case RunStatus::kQueued:
    case RunStatus::kRunning:
      return 1;
  }
  return 1;
}

}  // namespace hero
