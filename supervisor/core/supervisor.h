// Supervisor: the domain core. Owns the runs (one state machine each), the uid pool, the
// runtime staging directory, and wires span streams into the store. Loop thread only; no
// mutexes. Depends on sandbox, span_listener, store, base and libuv; never on api/.
#pragma once

#include <sys/types.h>
#include <uv.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "sandbox/cgroup.h"
#include "span_listener/span_assembler.h"
#include "supervisor/base/clock.h"
#include "supervisor/base/ids.h"
#include "supervisor/base/result.h"
#include "supervisor/base/unique_fd.h"
#include "supervisor/core/outcome.h"
#include "supervisor/core/process_launcher.h"
#include "supervisor/core/redactor.h"
#include "supervisor/core/uv_handle.h"
#include "supervisor/otel/otlp_exporter.h"
#include "supervisor/otel/trace_context.h"
#include "supervisor/store/store.h"

namespace hero::core {

enum class Profile { kTrusted, kUntrusted };
std::string_view ProfileName(Profile p);

struct SupervisorConfig {
  std::string data_dir;       // runs/<id>/ lives here
  std::string launcher_path;  // the built hero_launcher
  std::string sdk_dir;        // the repo's py/ (holds hero_tracing/)
  std::string runtime_dir;    // staged copy readable by run uids; "" = choose
  std::string python = "/usr/bin/python3";
  std::string bwrap = "/usr/bin/bwrap";
  uid_t uid_base = 200000;  // per-run uids when the supervisor is root
  int uid_count = 2000;
  spans::Limits span_limits;
  RunLimits default_limits;
  int64_t capture_cap_bytes = 4 << 20;  // per stream (stdout, stderr) of fd-level output
  std::chrono::milliseconds grace{2000};
  std::chrono::milliseconds drain_timeout{1000};  // after main exit, wait this long for EOF
  // After the root span ended (the flow returned), the process has this long to exit; then
  // it is killed and the run keeps the flow's own outcome, with a note (Run::OnExitGuard).
  std::chrono::milliseconds exit_guard{2000};
  size_t backpressure_rows = 4'000;  // stop reading span sockets above this many pending rows
  int max_outstanding_calls = 16;
  int64_t untrusted_work_bytes = 64 << 20;
  int64_t untrusted_tmp_bytes = 64 << 20;
  bool probe_untrusted = true;  // probe the host at Init; false: untrusted runs are refused
  bool use_cgroups = true;      // per-run memory/pids cgroups when running as root and writable
  // Warm pool (warm_pool.h): idle pre-started interpreters per (profile, network, limits);
  // 0 = off (every run is a cold start). Started by StartWarmPool().
  int pool_size = 0;
  std::chrono::milliseconds pool_idle{300'000};  // an idle worker older than this is recycled
  // The operator's secrets (name -> value). A run gets those named in RunRequest::secrets in
  // its environment; every value is redacted from everything any run stores (redactor()).
  std::map<std::string, std::string> secrets;
  // OTLP export of ended spans and span logs (docs/OTEL.md); null = off. Not owned; must
  // outlive the Supervisor.
  otel::OtlpExporter* exporter = nullptr;
};

struct RunRequest {
  std::string flow_name;  // "" = derived from the source file name
  int64_t flow_version = 0;
  std::string source;       // the flow's Python source
  std::string source_name;  // shown in tracebacks and spans (e.g. the file path)
  std::string entry;        // --name for boot: which @flow to run; "" = the only one
  std::string input_json = "{}";
  Profile profile = Profile::kTrusted;
  std::chrono::milliseconds timeout{60'000};
  bool network = false;
  RunId parent_run;
  std::string parent_span;
  // Names of SupervisorConfig::secrets set in the flow's environment (never through the warm
  // pool: a pooled worker's environment is fixed before the run is known).
  std::vector<std::string> secrets;
  // The trace this run continues (a `traceparent` from the API or the CLI). Unset: a child
  // run of an active parent continues the parent's trace below `parent_span`; any other run
  // starts a new trace. Resolved when the run starts (Supervisor::StartCreatedRun).
  std::optional<otel::TraceContext> trace;
};

// Live notifications about one run (CLI printer, SSE). Called on the loop thread.
class RunObserver {
 public:
  virtual ~RunObserver() = default;
  virtual void OnSpan(RunId, const spans::SpanRecord&) {}
  virtual void OnLog(RunId, const spans::LogRecord&) {}
  virtual void OnStatus(const store::RunRecord&) {}  // running, then the terminal record
};

// Answers `call` messages from a run's child (SPEC §3). The daemon provides one; without it
// every call is refused.
class CallHandler {
 public:
  virtual ~CallHandler() = default;
  // Must call `reply` exactly once (possibly later) with the result JSON or an error.
  virtual void HandleCall(RunId run, std::string_view method, std::string_view params_json,
                          std::function<void(Result<std::string>)> reply) = 0;
};

class Run;
class WarmPool;
struct PoolStats;

// A run uid leased for one run: unique on this machine while `lock` is held.
struct UidLease {
  uid_t uid = 0;
  UniqueFd lock;
};

class Supervisor {
 public:
  using StartedFn = std::function<void(Result<RunId>)>;
  using FinishedFn = std::function<void(const store::RunRecord&)>;

  Supervisor(uv_loop_t* loop, SupervisorConfig config, store::Store* store,
             ProcessLauncher* launcher, Clock* clock);
  ~Supervisor();

  // Blocking set-up before the loop runs: data dirs, runtime staging, subreaper,
  // non-dumpable, host probe. Errors name what is wrong.
  Status Init();

  // Queues a run. `started` gets the id once the run record is durable; `finished` gets the
  // terminal record once it and every span are committed (acknowledged).
  void StartRun(RunRequest req, RunObserver* observer, StartedFn started, FinishedFn finished);
  // The two halves of StartRun, for callers that queue runs (the daemon's RunQueue):
  // CreateRunRecord commits a `queued` record for `req` and hands it back (id set);
  // StartCreatedRun starts that run now (a start error ends it `failed`, reported through
  // `finished` like any other end). The record must come from CreateRunRecord.
  void CreateRunRecord(const RunRequest& req, std::function<void(Result<store::RunRecord>)> done);
  void StartCreatedRun(store::RunRecord rec, RunRequest req, RunObserver* observer,
                       FinishedFn finished);
  // Applies one wire event (a JSON object, no newline) to an active run as if it came from
  // its socket (span_push). kNotFound if the run is not active (or already finishing);
  // kInvalidArgument if the line is not a valid event.
  Status PushEvent(RunId id, std::string_view json_line);
  // kNotFound if the run is not active here.
  Status Cancel(RunId id);
  bool IsActive(RunId id) const;
  size_t active_runs() const { return runs_.size(); }
  void set_call_handler(CallHandler* h) { call_handler_ = h; }

  // Cancels nothing: waits for active runs up to `deadline`, then cancels the rest (they end
  // `interrupted`), then calls done.
  void Shutdown(std::chrono::milliseconds deadline, std::function<void()> done);

  // Starts filling the warm pool (config.pool_size > 0) for the default limits: trusted and,
  // if available, untrusted without network; other keys get a pool at their first miss.
  void StartWarmPool();
  // While `hold()` is true the pool pre-starts nothing (e.g. runs wait for a queue slot).
  void set_pool_hold(std::function<bool()> hold);
  PoolStats pool_stats() const;
  // {"size":…,"idle":…,"starting":…,"hits":…,"misses":…,…} for health output.
  std::string PoolStatsJson() const;
  // Prometheus lines (hero_pool_*) for /metrics.
  std::string PoolMetricsText() const;

  // Untrusted availability ("" if available, else what is missing).
  const std::string& untrusted_unavailable() const { return untrusted_unavailable_; }

  // --- used by Run ---
  uv_loop_t* loop() const { return loop_; }
  const SupervisorConfig& config() const { return config_; }
  const Redactor& redactor() const { return redactor_; }
  store::Store* store() const { return store_; }
  ProcessLauncher* launcher() const { return launcher_; }
  Clock* clock() const { return clock_; }
  CallHandler* call_handler() const { return call_handler_; }
  bool per_run_uids() const { return per_run_uids_; }
  // Parent of the per-run workdirs (searchable, not listable, by run uids).
  const std::string& work_root() const { return work_root_; }
  const sandbox::CgroupHost& cgroups() const { return cgroups_; }
  Result<UidLease> AcquireUid();
  void ReleaseUid(uid_t uid);
  // Spawns a short helper (e.g. the kill sweep) and reaps it when it exits; `hold` is closed
  // then (a dup of the run uid's lease keeps the uid reserved while the sweep runs).
  void SpawnAndReap(SpawnSpec spec, UniqueFd hold = UniqueFd());
  // A child the caller reaps itself (e.g. from a worker thread): the orphan reaper must not
  // steal its exit status. Loop thread only.
  void TrackPid(pid_t pid) { tracked_pids_.insert(pid); }
  void UntrackPid(pid_t pid) { tracked_pids_.erase(pid); }
  void OnRunDone(Run* run);  // the run is terminal and acknowledged; destroy it soon
  otel::OtlpExporter* exporter() const { return config_.exporter; }

 private:
  static void OnSigchld(uv_signal_t* h, int signum);
  static void OnReap(uv_idle_t* h);
  void ReapOrphans();
  Status StageRuntime();
  // Where the staged runtime and the start-up stamps live (/run/hero_logic as root).
  std::filesystem::path RuntimeBase() const;
  // "" when the untrusted profile is available (probed, or known from an earlier probe of the
  // same host state), else why not.
  std::string ProbeUntrusted();
  void SweepAbandonedRunUids();
  // Fills req.trace: kept if given (a fresh span key added), else the parent run's trace below
  // its span `parent_span` when the parent is active here, else a new trace.
  void ResolveTrace(RunRequest& req) const;

  uv_loop_t* loop_;
  SupervisorConfig config_;
  Redactor redactor_;
  store::Store* store_;
  ProcessLauncher* launcher_;
  Clock* clock_;
  CallHandler* call_handler_ = nullptr;
  bool per_run_uids_ = false;
  std::string untrusted_unavailable_;
  std::filesystem::path runtime_base_;
  std::string work_root_;
  sandbox::CgroupHost cgroups_;
  std::map<int64_t, std::unique_ptr<Run>> runs_;
  std::vector<std::unique_ptr<Run>> graveyard_;
  std::set<uid_t> uids_in_use_;
  uid_t next_uid_ = 0;
  std::set<pid_t> tracked_pids_;
  struct Helper;
  std::vector<std::unique_ptr<Helper>> helpers_;
  UvHandle<uv_signal_t> sigchld_;
  UvHandle<uv_idle_t> reaper_;
  UvHandle<uv_timer_t> shutdown_timer_;
  std::function<void()> shutdown_done_;
  std::unique_ptr<WarmPool> pool_;
  friend class Run;
  friend class WarmPool;
};

}  // namespace hero::core
