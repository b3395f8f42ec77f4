// Run: one run's state machine and the handles it owns (pidfd poll, span socket, stdout and
// stderr pipes, seccomp listener, timers). Loop thread only. Created and destroyed by the
// Supervisor; memory of handles is freed in their close callbacks (UvHandle).
//
// Phases: kPreparing (record created, files written) -> kRunning (spawned) -> kStopping
// (SIGTERM sent; SIGKILL after grace) -> kDraining (main exited, everything of the run
// killed; reading what is left until EOF or drain timeout) -> kFinishing (terminal record
// and spans being committed) -> kDone.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "span_listener/event_parser.h"
#include "span_listener/run_stream.h"
#include "supervisor/core/launch_plan.h"
#include "supervisor/core/outcome.h"
#include "supervisor/core/supervisor.h"
#include "supervisor/core/warm_pool.h"

namespace hero::core {

class Run final : public spans::AssemblerSink {
 public:
  Run(Supervisor* sup, RunId id, RunRequest req, store::RunRecord rec, RunObserver* observer,
      Supervisor::FinishedFn finished);
  ~Run() override;

  // Writes the run's files, builds the sandbox plan and spawns the launcher.
  Status Start();
  // Adopts a pre-started worker of the warm pool (its uid lease, cgroup, workdir, process and
  // fds), writes the run's files and sends the `dispatch` message. Timers start here, as in
  // Start(). On error the caller calls FailStart (which kills the worker).
  Status StartWarm(std::unique_ptr<WarmWorker> worker);
  // The limits a run of `req` gets (the config's defaults; CPU = 2 x the wall timeout).
  static RunLimits LimitsFor(const SupervisorConfig& config, const RunRequest& req);
  void Cancel();
  // Start() failed: ends the run `failed` with the reason, killing the process if spawned.
  void FailStart(const Status& why);
  // Supervisor shutdown: ends the run as `interrupted`.
  void Interrupt();
  RunId id() const { return id_; }
  // span_push: one wire event applied as if read from the socket (see Supervisor::PushEvent).
  Status PushEvent(std::string_view json_line);
  bool done() const { return phase_ == Phase::kDone; }
  // The run's trace context (resolved before the Run is built; see RunRequest::trace).
  const otel::TraceContext& trace() const { return *req_.trace; }
  // The OTel span id of this run's span with wire id `wire_id` (the root's for the root's id
  // or ""; see otel/trace_context.h).
  uint64_t OtelSpanId(std::string_view wire_id) const;

  // AssemblerSink
  void OnSpan(const spans::SpanRecord& span) override;
  void OnLog(const spans::LogRecord& log) override;
  void OnResult(std::string_view output_json) override;
  void OnLimit(std::string_view limit, std::string_view error) override;
  void OnCall(int64_t req, std::string_view method, std::string_view params_json) override;

 private:
  enum class Phase { kPreparing, kRunning, kStopping, kDraining, kFinishing, kDone };
  struct Pipe {
    Run* run = nullptr;
    const char* stream = "";
    UvHandle<uv_pipe_t> handle;
    bool open = false;
    int64_t captured = 0;
    int64_t dropped = 0;
    std::string tail;     // last bytes, for the run record
    std::string partial;  // an incomplete last line, flushed at EOF
  };

  // What a spawned (or adopted) child hands to the run: its process and the parent's ends.
  struct Child {
    SpawnedChild ends;
    std::string pending;   // span bytes already read (a warm worker's hello)
    std::string dispatch;  // a line to send first (a warm worker's dispatch), "" = none
  };

  // `pooled_workdir`: a warm worker's workdir, renamed to the run's instead of creating one.
  Status PrepareFiles(std::string* source_path, std::string* input_path, std::string* workdir,
                      const std::string& pooled_workdir = std::string());
  Status Attach(Child c);
  std::string DispatchLine() const;
  Status OpenPipe(Pipe& p, UniqueFd fd, const char* stream);
  void StopTimers();
  void SignalRun(int sig);
  void BeginStop(bool cancelled, bool timed_out, bool interrupted);
  void OnMainExit(int wait_status, const struct rusage& ru);
  void MaybeFinishDrain();
  void FinishRun();
  void RemoveWorkdirAsync();
  void UpdateReadState();
  void WriteToChild(std::string line, bool call_reply);
  void HandlePipeData(Pipe& p, const char* data, size_t n);
  void FlushPipePartial(Pipe& p);
  void WatchListener(UniqueFd fd);
  // OTLP export (config.exporter set): an ended span whose parent is known / a span's log.
  void ExportSpan(otel::OtlpExporter& ex, const spans::SpanRecord& span);
  void ExportLog(otel::OtlpExporter& ex, const spans::LogRecord& log);
  const std::shared_ptr<const otel::RunInfo>& OtelRun();
  std::string Traceparent() const;

  static void OnPidfd(uv_poll_t* h, int status, int events);
  static void OnSpanRead(uv_stream_t* s, ssize_t n, const uv_buf_t* buf);
  static void OnPipeRead(uv_stream_t* s, ssize_t n, const uv_buf_t* buf);
  static void OnSpanAlloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void OnPipeAlloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void OnTimeout(uv_timer_t* t);
  static void OnGrace(uv_timer_t* t);
  static void OnDrainTimeout(uv_timer_t* t);
  static void OnExitGuard(uv_timer_t* t);
  // The exit guard (and a timeout after the flow returned): kill, keep the flow's outcome.
  void KillAfterReturn();
  static void OnBackpressureTimer(uv_timer_t* t);
  static void OnNotifySocket(uv_poll_t* h, int status, int events);
  static void OnListener(uv_poll_t* h, int status, int events);

  Supervisor* sup_;
  RunId id_;
  RunRequest req_;
  store::RunRecord rec_;
  RunObserver* observer_;
  Supervisor::FinishedFn finished_;
  Phase phase_ = Phase::kPreparing;
  RunLimits limits_;
  std::unique_ptr<spans::RunStream> stream_;
  spans::EventParser push_parser_;  // span_push lines bypass the socket's line framer
  spans::Event push_event_;

  pid_t pid_ = -1;
  uid_t uid_ = 0;
  bool uid_acquired_ = false;
  UidLease uid_lease_;
  std::unique_ptr<sandbox::RunCgroup> cgroup_;  // per-run memory/pids limits, if the host has them
  bool memory_oom_ = false;                     // released (lock closed) when the Run is destroyed
  bool bwrap_main_ = false;
  bool pooled_ = false;  // started on a warm-pool worker
  UniqueFd pidfd_;
  UvHandle<uv_poll_t> pid_poll_;
  UvHandle<uv_pipe_t> span_sock_;
  bool span_open_ = false;
  bool span_reading_ = false;
  Pipe out_, err_;
  UniqueFd notify_sock_;
  UvHandle<uv_poll_t> notify_poll_;
  UniqueFd listener_;
  UvHandle<uv_poll_t> listener_poll_;
  UvHandle<uv_timer_t> timeout_timer_, grace_timer_, drain_timer_, bp_timer_, exit_guard_timer_;

  bool cancelled_ = false, timed_out_ = false, interrupted_ = false;
  bool pending_stop_ = false;  // Cancel/Interrupt arrived before the spawn
  // The root span ended (the flow returned); its status decides the outcome if the process
  // then has to be killed for not exiting (exit_guard_killed_).
  bool flow_returned_ = false;
  bool root_ok_ = false;
  bool exit_guard_killed_ = false;
  int64_t flow_returned_us_ = 0;
  std::string exit_guard_note_;  // for the run record's diagnostics
  std::optional<ExitInfo> exit_;
  std::string blocked_syscall_;
  int blocked_count_ = 0;
  std::string launcher_error_, boot_error_, start_error_;
  std::string limit_event_;  // the boot module's `limit` event, if one came
  int outstanding_calls_ = 0;
  std::string root_wire_id_;                       // the root span's wire id, once seen
  std::shared_ptr<const otel::RunInfo> otel_run_;  // built at the first exported span
  std::vector<uint64_t> otel_ids_;                 // span seq -> OTel span id (export only)
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  char read_buf_[64 * 1024];
};

}  // namespace hero::core
