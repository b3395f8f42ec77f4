// Service: the daemon's API surface over the domain. Implements api::Backend (the JSON-RPC
// methods of SPEC §6, SSE subscriptions, /healthz, /metrics) and core::CallHandler (the `call`
// channel of SPEC §3: an allowlist of the same methods, answered for the calling run with
// child-run caps). The work is done by RunService, FlowLibrary, RunEvents and the store; this
// class only validates, composes and formats JSON. Loop thread only.
#pragma once

#include <uv.h>

#include <array>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "supervisor/api/backend.h"
#include "supervisor/core/event_log.h"
#include "supervisor/core/flow_library.h"
#include "supervisor/core/run_service.h"
#include "supervisor/core/supervisor.h"
#include "supervisor/core/uv_handle.h"

namespace hero::core {

// Loop lag: a 100 ms repeating timer; lag = actual - expected firing time. Keeps the last
// minute of samples for max and p99, and a cumulative histogram of every sample since start
// (what /metrics exports: Prometheus computes quantiles over any window from the buckets).
class LoopLagMonitor {
 public:
  // Upper bounds of the histogram buckets, in seconds (+Inf is implicit).
  static constexpr std::array<double, 11> kBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                      0.1,   0.25,   0.5,   1.0,  2.5};
  explicit LoopLagMonitor(uv_loop_t* loop);
  void Start();
  void Stop();
  double MaxSeconds() const;
  double P99Seconds() const;
  void Record(double lag_seconds);
  // Prometheus text for the histogram `name` (HELP, TYPE, _bucket{le}, _sum, _count).
  std::string HistogramText(const std::string& name, const std::string& help) const;

 private:
  static void OnTick(uv_timer_t* t);
  uv_loop_t* loop_;
  UvHandle<uv_timer_t> timer_;
  uint64_t expected_ns_ = 0;
  std::deque<double> samples_;                             // seconds, newest last, <= 600
  std::array<uint64_t, kBuckets.size()> bucket_counts_{};  // per bucket, not cumulative
  uint64_t count_ = 0;
  double sum_ = 0;
};

struct ServiceLimits {
  int max_child_depth = 3;        // a run at this depth may not start children
  int max_children_per_run = 20;  // child runs one run may start
  std::chrono::milliseconds max_wait{3'600'000};
  std::chrono::milliseconds max_call_wait{60'000};  // play_wait over the call channel
};

class Service final : public api::Backend, public CallHandler {
 public:
  Service(uv_loop_t* loop, Supervisor* sup, store::Store* store, RunService* runs,
          RunEvents* events, FlowLibrary* library, ServiceLimits limits, std::string version);
  ~Service() override;

  // api::Backend
  Status RegisterMethods(api::MethodTable& table) override;
  Status SubscribeRunEvents(RunId run_id, int64_t last_event_id,
                            std::shared_ptr<api::SseStream> stream) override;
  Result<std::string> HealthJson() override;
  std::string MetricsText() override;

  // CallHandler: allowlisted methods only; anything else is "method not allowed: <name>".
  void HandleCall(RunId run, std::string_view method, std::string_view params_json,
                  std::function<void(Result<std::string>)> reply) override;

  LoopLagMonitor& loop_lag() { return lag_; }
  // Secrets (names of SupervisorConfig::secrets) that script_run's ad-hoc code gets; by
  // default none.
  void set_script_run_secrets(std::vector<std::string> names) {
    script_run_secrets_ = std::move(names);
  }

 private:
  // Who is calling: an API client (caller invalid) or a run over its call channel.
  struct Ctx {
    RunId caller;
  };
  using SharedReply = std::shared_ptr<api::Reply>;
  using Handler = std::function<void(const Ctx&, const api::Params&, SharedReply)>;
  struct Method {
    api::MethodSpec spec;  // handler unset: specs for ParseParams
    Handler handler;
  };

  Status Add(api::MethodTable& table, api::MethodSpec spec, Handler handler);

  // flows and presets
  void FlowCreate(const Ctx&, const api::Params&, SharedReply);
  void FlowUpdate(const Ctx&, const api::Params&, SharedReply);
  void FlowGet(const Ctx&, const api::Params&, SharedReply);
  void FlowList(const Ctx&, const api::Params&, SharedReply);
  void FlowDelete(const Ctx&, const api::Params&, SharedReply);
  void FlowVersions(const Ctx&, const api::Params&, SharedReply);
  void FlowSetCurrent(const Ctx&, const api::Params&, SharedReply);
  void FlowSearch(const Ctx&, const api::Params&, SharedReply);
  void ExampleCreate(const Ctx&, const api::Params&, SharedReply);
  void ExampleList(const Ctx&, const api::Params&, SharedReply);
  void ExampleDelete(const Ctx&, const api::Params&, SharedReply);
  // runs
  void PlayStart(const Ctx&, const api::Params&, SharedReply);
  void PlayRunAsync(const Ctx&, const api::Params&, SharedReply);
  void PlayWait(const Ctx&, const api::Params&, SharedReply);
  void PlayStatus(const Ctx&, const api::Params&, SharedReply);
  void PlayCancel(const Ctx&, const api::Params&, SharedReply);
  void PlayRetry(const Ctx&, const api::Params&, SharedReply);
  void PlayList(const Ctx&, const api::Params&, SharedReply);
  void PlaySpans(const Ctx&, const api::Params&, SharedReply);
  void PlayLogs(const Ctx&, const api::Params&, SharedReply);
  void ScriptRun(const Ctx&, const api::Params&, SharedReply);
  void SpanPush(const Ctx&, const api::Params&, SharedReply);

  // Builds a RunRequest from play_* params (library flow or ad-hoc source) and submits it;
  // `done` gets the queued record. Applies the call-channel caps when ctx.caller is a run.
  void SubmitFromParams(const Ctx& ctx, const api::Params& p, bool force_untrusted,
                        std::function<void(Result<store::RunRecord>)> done);
  void Submit(const Ctx& ctx, RunRequest req, std::function<void(Result<store::RunRecord>)> done);
  // Sets req.secrets, then Submit: script_run (`ad_hoc`) gets script_run_secrets_ only; a
  // library flow, or a source an API client sent, gets what its @flow(secrets=[...]) asks for
  // and the operator configured; a source sent by a running flow over the
  // call channel gets none (else a script_run could grant itself any secret).
  void GrantSecretsAndSubmit(const Ctx& ctx, RunRequest req, bool ad_hoc,
                             std::function<void(Result<store::RunRecord>)> done);
  // {run, tree} once the record is terminal (tree read from the store).
  void RunDocumentAsync(store::RunRecord rec, std::function<void(Result<std::string>)> done);
  std::string RecordJson(const store::RunRecord& rec) const;

  uv_loop_t* loop_;
  Supervisor* sup_;
  store::Store* store_;
  RunService* runs_;
  RunEvents* events_;
  FlowLibrary* library_;
  ServiceLimits limits_;
  std::string version_;
  LoopLagMonitor lag_;
  std::vector<std::string> script_run_secrets_;
  std::unordered_map<std::string, Method> call_methods_;  // the call channel's allowlist
  int64_t calls_refused_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace hero::core
