// Outcome decision table. Order matters: what the supervisor itself did (cancel, timeout)
// wins over how the process died, because our own SIGTERM/SIGKILL caused that death.
#include "supervisor/core/outcome.h"

#include <signal.h>

#include <cstdio>

namespace hero::core {

std::string FormatBytes(int64_t b) {
  struct Unit {
    int64_t size;
    const char* name;
  };
  for (Unit u : {Unit{1LL << 30, "GiB"}, Unit{1LL << 20, "MiB"}, Unit{1LL << 10, "KiB"}}) {
    if (b >= u.size) {
      char buf[48];
      if (b % u.size == 0) {
        std::snprintf(buf, sizeof buf, "%lld %s", static_cast<long long>(b / u.size), u.name);
      } else {
        std::snprintf(buf, sizeof buf, "%.1f %s", static_cast<double>(b) / u.size, u.name);
      }
      return buf;
    }
  }
  return std::to_string(b) + " bytes";
}

std::string FormatDuration(std::chrono::milliseconds d) {
  int64_t ms = d.count();
  char buf[48];
  if (ms < 1000) {
    std::snprintf(buf, sizeof buf, "%lld ms", static_cast<long long>(ms));
  } else if (ms % 1000 == 0) {
    std::snprintf(buf, sizeof buf, "%lld s", static_cast<long long>(ms / 1000));
  } else {
    std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ms) / 1000.0);
  }
  return buf;
}

std::string SignalName(int sig) {
  switch (sig) {
    case SIGKILL:
      return "SIGKILL";
    case SIGTERM:
      return "SIGTERM";
    case SIGSEGV:
      return "SIGSEGV";
    case SIGABRT:
      return "SIGABRT";
    case SIGBUS:
      return "SIGBUS";
    case SIGFPE:
      return "SIGFPE";
    case SIGILL:
      return "SIGILL";
    case SIGSYS:
      return "SIGSYS";
    case SIGXCPU:
      return "SIGXCPU";
    case SIGXFSZ:
      return "SIGXFSZ";
    case SIGPIPE:
      return "SIGPIPE";
    case SIGINT:
      return "SIGINT";
    case SIGHUP:
      return "SIGHUP";
    default:
      return "signal " + std::to_string(sig);
  }
}

namespace {

std::string Clip(const std::string& s, size_t n) {
  if (s.size() <= n) return s;
  return s.substr(0, n) + "…";
}

std::string DescribeFailure(const RunFacts& f, int code) {
  std::string r = "exit code " + std::to_string(code);
  if (!f.failure) return r;
  const FailedSpan& fs = *f.failure;
  // The script's own sys.exit(n) (in the flow or a step): the boot module exits 1 and the
  // span says "exit code n".
  if ((fs.is_root || fs.error_type == "SystemExit") && fs.error.rfind("exit code ", 0) == 0 &&
      fs.error.find_first_not_of("0123456789", 10) == std::string::npos) {
    return "the script exited with code " + fs.error.substr(10);
  }
  std::string type = fs.error_type.empty() ? "error" : fs.error_type;
  if (type == "Failed") type = "failed";
  r += ": " + type + (fs.is_root ? " in flow '" : " in step '") + fs.span_name + "'";
  if (!fs.error.empty()) r += ": " + Clip(fs.error, 200);
  return r;
}

Outcome Killed(std::string reason) { return {RunStatus::kKilled, std::move(reason)}; }

// The boot module's SyntaxError message is "FILE:LINE: SyntaxError: msg".
std::string SyntaxReason(const std::string& error) {
  const std::string marker = ": SyntaxError: ";
  size_t m = error.find(marker);
  if (m == std::string::npos) return "syntax error: " + Clip(error, 300);
  size_t colon = error.rfind(':', m - 1);
  std::string line = colon == std::string::npos ? "" : error.substr(colon + 1, m - colon - 1);
  std::string msg = Clip(error.substr(m + marker.size()), 300);
  if (line.empty() || line.find_first_not_of("0123456789") != std::string::npos)
    return "syntax error: " + msg;
  return "syntax error at line " + line + ": " + msg;
}

}  // namespace

std::string LimitReason(std::string_view limit, const RunLimits& lim) {
  if (limit == "memory") return "memory limit " + FormatBytes(lim.memory_bytes) + " exceeded";
  if (limit == "file_size")
    return "file size limit " + FormatBytes(lim.file_size_bytes) + " exceeded";
  if (limit == "processes") return "process limit " + std::to_string(lim.processes) + " reached";
  return "";
}

Outcome DecideOutcome(const RunFacts& f) {
  const RunLimits& lim = f.limits;
  if (f.cancelled) return {RunStatus::kCancelled, "cancelled by request"};
  if (f.timed_out)
    return {RunStatus::kTimedOut, "wall-clock timeout " + FormatDuration(lim.timeout)};
  if (f.output_limit_killed) return Killed("output limit exceeded");

  ExitInfo e = f.exit;
  if (f.bwrap_main && !e.signaled && e.code > 128 && e.code < 128 + 65) {
    e.signaled = true;
    e.signal = e.code - 128;
  }

  if (e.signaled) {
    if (!f.blocked_syscall.empty()) return Killed("blocked syscall " + f.blocked_syscall);
    switch (e.signal) {
      case SIGXCPU:
        return Killed("CPU limit " + std::to_string(lim.cpu_seconds) + " s exceeded");
      case SIGXFSZ:
        return Killed("file size limit " + FormatBytes(lim.file_size_bytes) + " exceeded");
      case SIGSYS:
        return Killed("blocked syscall (SIGSYS: forbidden architecture or call)");
      case SIGKILL:
        if (f.memory_cgroup_oom)
          return Killed("memory limit " + FormatBytes(lim.memory_bytes) + " exceeded");
        return Killed("killed by SIGKILL (out of memory or an external kill)");
      default:
        return {RunStatus::kFailed, "terminated by " + SignalName(e.signal)};
    }
  }

  std::string blocked_note;
  if (!f.blocked_syscall.empty()) {
    blocked_note =
        " (blocked syscall " + f.blocked_syscall + " in a child process" +
        (f.blocked_count > 1 ? ", " + std::to_string(f.blocked_count) + " blocked calls" : "") +
        ")";
  }
  if (e.code == 0) return {RunStatus::kOk, "ok" + blocked_note};
  if (!f.limit_event.empty()) {
    std::string r = LimitReason(f.limit_event, lim);
    if (!r.empty()) return Killed(r);
  }
  if (f.memory_cgroup_oom)
    return Killed("memory limit " + FormatBytes(lim.memory_bytes) + " exceeded");
  if (e.code == 126 && !f.launcher_error.empty())
    return {RunStatus::kFailed, "sandbox launcher failed: " + Clip(f.launcher_error, 300)};
  if (f.root_open_at_exit)
    return {RunStatus::kFailed,
            "the script exited with code " + std::to_string(e.code) + blocked_note};
  if (e.code == 2) {
    if (f.failure && f.failure->is_root && f.failure->error_type == "SyntaxError")
      return {RunStatus::kFailed, SyntaxReason(f.failure->error)};
    if (!f.boot_error.empty())
      return {RunStatus::kFailed, "invalid flow or input: " + Clip(f.boot_error, 300)};
  }
  return {RunStatus::kFailed, DescribeFailure(f, e.code) + blocked_note};
}

}  // namespace hero::core
