// Run and span status vocabulary shared by every layer (SPEC §3, §4). Leaf: STL only.
#pragma once

#include <optional>
#include <string_view>

namespace hero {

enum class RunStatus {
  kQueued,
  kRunning,
  kOk,
  kFailed,
  kTimedOut,
  kCancelled,
  kKilled,       // a sandbox limit ended it
  kInterrupted,  // the supervisor stopped while it ran
};

std::string_view RunStatusName(RunStatus s);
std::optional<RunStatus> ParseRunStatus(std::string_view s);
inline bool IsTerminal(RunStatus s) { return s != RunStatus::kQueued && s != RunStatus::kRunning; }

// CLI exit code for a terminal status: 0 ok, 1 failed, 124 timed out, 125 killed or
// interrupted, 130 cancelled.
int ExitCodeForStatus(RunStatus s);

}  // namespace hero
