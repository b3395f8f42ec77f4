// DecideOutcome: maps how a run's main process ended (plus what the supervisor saw) to one
// terminal status and a reason a person can act on (SPEC §4). Pure; no I/O. Any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "supervisor/base/run_status.h"

namespace hero::core {

struct ExitInfo {
  bool signaled = false;
  int code = 0;    // exit code when !signaled
  int signal = 0;  // terminating signal when signaled
};

struct RunLimits {
  int64_t memory_bytes = 2LL << 30;
  int64_t file_size_bytes = 64LL << 20;
  int64_t processes = 64;
  int64_t cpu_seconds = 120;
  std::chrono::milliseconds timeout{60'000};
};

struct FailedSpan {
  std::string span_name;
  bool is_root = false;
  std::string error_type;
  std::string error;
};

struct RunFacts {
  ExitInfo exit;
  bool bwrap_main = false;  // main process is bwrap: exit code 128+N means the flow died of N
  bool cancelled = false;
  bool timed_out = false;
  bool output_limit_killed = false;
  bool memory_cgroup_oom = false;
  std::string blocked_syscall;  // first syscall a seccomp tripwire stopped, "" if none
  int blocked_count = 0;
  std::optional<FailedSpan> failure;  // innermost failed span
  std::string launcher_error;         // "hero_launcher: ..." line from stderr, if any
  std::string boot_error;             // "hero_tracing.boot: ..." line from stderr, if any
  // The boot module's `limit` event ("memory", "file_size", "processes"; "" = none): the only
  // evidence of a limit an exception reported; exit codes 3-5 alone are not (user code can
  // exit with any code).
  std::string limit_event;
  // The root span was started but still open when the main process exited: the boot module
  // never finished, so a non-zero exit is the script's own (os._exit(n)) or a crash.
  bool root_open_at_exit = false;
  RunLimits limits;
};

struct Outcome {
  RunStatus status = RunStatus::kFailed;
  std::string reason;
};

// Decided by facts, never by the numeric exit code alone: a limit needs the `limit` event,
// a signal with its counters (cgroup OOM, seccomp listener) or SIGXCPU/SIGXFSZ; exit code 2
// is "invalid flow or input" only with the boot module's own error.
Outcome DecideOutcome(const RunFacts& facts);

// "memory limit 2 GiB exceeded" for a `limit` event name; "" for an unknown name.
std::string LimitReason(std::string_view limit, const RunLimits& limits);

// "2 GiB", "512 MiB", "64 KiB", "100 bytes".
std::string FormatBytes(int64_t bytes);
// "30 s", "1.5 s", "250 ms".
std::string FormatDuration(std::chrono::milliseconds d);
// "SIGKILL", "SIGSEGV", or "signal 42".
std::string SignalName(int sig);

}  // namespace hero::core
