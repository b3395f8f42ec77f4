// Service implementation: method specs, parameter checks beyond types, JSON answers. Every
// store callback may run after a client left: a Reply answered late is dropped by the api layer.
#include "supervisor/core/service.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "supervisor/api/json_rpc.h"
#include "supervisor/base/json_writer.h"
#include "supervisor/base/run_status.h"
#include "supervisor/core/run_view.h"
#include "supervisor/core/script_answer.h"
#include "supervisor/loop/work.h"

namespace hero::core {
namespace {

using api::Params;
using api::ParamSpec;
using api::ParamType;

constexpr int64_t kMaxTimeoutMs = 7LL * 24 * 3600 * 1000;
constexpr int64_t kDefaultTimeoutMs = 60'000;
// script_run reads at most this many spans (the first ones) before bounding the answer.
constexpr int64_t kScriptRunMaxSpans = 2000;
// play_start/script_run wait this long past the run's timeout: grace + drain + commit.
constexpr int64_t kWaitMarginMs = 5'000;

const char* kRunSchema =
    R"({"type":"object","description":"a run record: id, flow, status, reason, times, counters"})";
const char* kDocSchema =
    R"({"type":"object","properties":{"run":{"type":"object"},"tree":{"type":["object","null"]}}})";
const char* kFlowSchema = R"({"type":"object","description":"a library flow"})";
const char* kProfileSchema = R"({"type":"string","enum":["trusted","untrusted"]})";
const char* kStatusSchema =
    R"({"type":"string","enum":["queued","running","ok","failed","timed_out","cancelled","killed","interrupted"]})";

// Accessors for params that a method may not declare (SubmitFromParams serves several).
bool Declared(const Params& p, std::string_view name) {
  for (const auto& e : p.entries()) {
    if (e.name == name) return true;
  }
  return false;
}
bool HasP(const Params& p, std::string_view name) { return Declared(p, name) && p.Has(name); }
std::string StrP(const Params& p, std::string_view name, std::string_view def = "") {
  return std::string(HasP(p, name) ? p.GetString(name) : def);
}

void ReadFileAsync(uv_loop_t* loop, std::string path,
                   std::function<void(Result<std::string>)> done) {
  loop::QueueWorkWithResult(
      loop,
      [path = std::move(path)]() -> Result<std::string> {
        std::ifstream in(path, std::ios::binary);
        if (!in) return NotFound("cannot read " + path);
        std::ostringstream ss;
        ss << in.rdbuf();
        return ss.str();
      },
      std::move(done));
}

void WriteFlowVersionFields(JsonWriter& w, const store::FlowVersion& v) {
  w.Field("version", v.version);
  w.Field("description", v.description);
  w.Field("docstring", v.docstring);
  w.Key("inputs").Raw(v.inputs_json.empty() ? "{}" : v.inputs_json);
  w.Key("outputs").Raw(v.outputs_json.empty() ? "{}" : v.outputs_json);
  w.Key("tags").Raw(v.tags_json.empty() ? "[]" : v.tags_json);
  w.Field("entry", v.entry);
  w.Field("line", v.line);
  w.Field("created_us", v.created_us);
}

// The flow without its source (answers of create/update/list/set_current).
void WriteFlowSummary(JsonWriter& w, const store::FlowRecord& f) {
  w.BeginObject();
  w.Field("name", f.name);
  w.Field("current_version", f.current_version);
  WriteFlowVersionFields(w, f.current);
  w.Field("updated_us", f.updated_us);
  w.EndObject();
}

std::string FlowSummaryJson(const store::FlowRecord& f) {
  JsonWriter w;
  WriteFlowSummary(w, f);
  return w.Take();
}

// The run params shared by play_start, play_run_async and script_run.
std::vector<ParamSpec> RunParams(bool with_flow, bool with_parent) {
  std::vector<ParamSpec> p;
  if (with_flow)
    p.push_back({"flow", ParamType::kString, false,
                 "library flow to run (its current version); or give source"});
  p.push_back({"source", ParamType::kString, !with_flow,
               "ad-hoc Python source (a @flow file or a plain script)"});
  p.push_back({"input", ParamType::kObject, false, "input object (default {})"});
  if (with_flow) {
    p.push_back(
        {"profile", ParamType::kString, false,
         "sandbox profile: trusted (default for library flows) or untrusted (default for sources)",
         kProfileSchema});
    p.push_back({"name", ParamType::kString, false,
                 "which @flow of the source to run (default: the only one)"});
  }
  p.push_back(
      {"timeout_ms", ParamType::kInteger, false, "wall-clock timeout in ms (default 60000)"});
  p.push_back(
      {"network", ParamType::kBoolean, false, "allow network (untrusted profile; default false)"});
  p.push_back({"traceparent", ParamType::kString, false,
               "W3C traceparent: the run's root span becomes a child of this span"});
  p.push_back(
      {"tracestate", ParamType::kString, false, "W3C tracestate passed on with traceparent"});
  if (with_parent) {
    p.push_back({"parent_run", ParamType::kInteger, false, "parent run id (sub-flows)"});
    p.push_back(
        {"parent_span", ParamType::kString, false, "the parent run's span that starts this run"});
  }
  return p;
}

const char* kScriptRunDescription =
    "Never falls back to the trusted profile: if untrusted is unavailable the call fails with "
    "FAILED_PRECONDITION naming what is missing. A plain script runs as __main__ under one root "
    "span; a file with a @flow entry runs that entry. How to read the answer: `status` and "
    "`reason` first; on failure, `failure.file`/`line`/`source_line` point at the script's own "
    "innermost frame and `failure.hint` (with `hint_code`) says what to change when the sandbox "
    "caused it (no network, module not installed, path outside the work dir, a limit). `stdout` "
    "and `stderr` are what the script printed, merged in order across steps (bounded tails); "
    "`output` is only the @flow's return value. The answer is at most max_answer_bytes; "
    "`tree_truncated` and `dropped` say what was left out, play_spans/play_logs have the rest.";

// script_run: the run params plus the answer's bounds.
std::vector<ParamSpec> ScriptRunParams() {
  std::vector<ParamSpec> p = RunParams(false, false);
  p.push_back({"max_output_bytes", ParamType::kInteger, false,
               "bytes kept of stdout and of stderr each (their tail): default 32768, 1024.." +
                   std::to_string(kMaxOutputBytesCap)});
  p.push_back({"max_output_lines", ParamType::kInteger, false,
               "lines kept of stdout and of stderr each: default 200, 1..100000"});
  p.push_back({"max_answer_bytes", ParamType::kInteger, false,
               "bound of the whole answer: default 262144 (raised to 2 x max_output_bytes + "
               "65536 when that is larger), " +
                   std::to_string(kMinAnswerBytes) + ".." + std::to_string(kMaxAnswerBytesCap)});
  return p;
}

// Renders a run's rows on the thread pool and replies with the JSON: building and rendering a
// 10^5-span tree (or merging 10^5 log rows for script_run) takes the better part of a second,
// during which the loop would read no run's socket (measured: a neighbour's ingest latency
// 1.7 s while a client fetched a flood run's tree). The rows travel in a shared_ptr so the
// std::function inside QueueWork never copies them.
template <typename Render>
void RenderRowsOffLoop(uv_loop_t* loop, std::vector<store::SpanRow> spans,
                       std::vector<store::LogRow> logs, std::shared_ptr<api::Reply> r,
                       Render render) {
  auto rows = std::make_shared<std::pair<std::vector<store::SpanRow>, std::vector<store::LogRow>>>(
      std::move(spans), std::move(logs));
  loop::QueueWorkWithResult(
      loop,
      [rows, render = std::move(render)]() mutable {
        auto taken = std::move(*rows);
        rows.reset();
        return render(std::move(taken.first), std::move(taken.second));
      },
      [r](std::string json) { (*r)(std::move(json)); });
}
}  // namespace

// --- LoopLagMonitor ---

LoopLagMonitor::LoopLagMonitor(uv_loop_t* loop) : loop_(loop) {}

void LoopLagMonitor::Start() {
  uv_timer_init(loop_, timer_.Allocate(this));
  timer_.Initialized();
  uv_unref(reinterpret_cast<uv_handle_t*>(timer_.get()));
  expected_ns_ = uv_hrtime() + 100'000'000;
  uv_timer_start(timer_.get(), &LoopLagMonitor::OnTick, 100, 100);
}

void LoopLagMonitor::Stop() { timer_.Close(); }

void LoopLagMonitor::OnTick(uv_timer_t* t) {
  auto* m = static_cast<LoopLagMonitor*>(t->data);
  if (!m) return;
  uint64_t now = uv_hrtime();
  double lag = now > m->expected_ns_ ? static_cast<double>(now - m->expected_ns_) / 1e9 : 0.0;
  m->Record(lag);
  m->expected_ns_ = now + 100'000'000;
}

void LoopLagMonitor::Record(double lag_seconds) {
  samples_.push_back(lag_seconds);
  if (samples_.size() > 600) samples_.pop_front();
  auto it = std::lower_bound(kBuckets.begin(), kBuckets.end(), lag_seconds);
  if (it != kBuckets.end()) ++bucket_counts_[static_cast<size_t>(it - kBuckets.begin())];
  ++count_;
  sum_ += lag_seconds;
}

std::string LoopLagMonitor::HistogramText(const std::string& name, const std::string& help) const {
  std::string out = "# HELP " + name + " " + help + "\n# TYPE " + name + " histogram\n";
  char buf[160];
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    cumulative += bucket_counts_[i];
    std::snprintf(buf, sizeof buf, "%s_bucket{le=\"%g\"} %llu\n", name.c_str(), kBuckets[i],
                  static_cast<unsigned long long>(cumulative));
    out += buf;
  }
  std::snprintf(buf, sizeof buf, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n",
                name.c_str(), static_cast<unsigned long long>(count_), name.c_str(), sum_,
                name.c_str(), static_cast<unsigned long long>(count_));
  out += buf;
  return out;
}

double LoopLagMonitor::MaxSeconds() const {
  double m = 0;
  for (double s : samples_) m = std::max(m, s);
  return m;
}

double LoopLagMonitor::P99Seconds() const {
  if (samples_.empty()) return 0;
  std::vector<double> v(samples_.begin(), samples_.end());
  size_t k = std::min(v.size() - 1, static_cast<size_t>(static_cast<double>(v.size()) * 0.99));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

// --- Service ---

Service::Service(uv_loop_t* loop, Supervisor* sup, store::Store* store, RunService* runs,
                 RunEvents* events, FlowLibrary* library, ServiceLimits limits, std::string version)
    : loop_(loop),
      sup_(sup),
      store_(store),
      runs_(runs),
      events_(events),
      library_(library),
      limits_(limits),
      version_(std::move(version)),
      lag_(loop) {
  // libuv starts its threadpool at the first uv_queue_work and abort()s if it cannot create
  // the threads (threadpool.c init_threads). The first work used to be a finished run's
  // workdir removal, so a daemon that hit a process limit (pids cgroup, EAGAIN) died at the
  // next run's end. Start the pool now, while the daemon can still create threads.
  loop::QueueWork(
      loop, [] {}, nullptr);
}

Service::~Service() { *alive_ = false; }

Status Service::Add(api::MethodTable& table, api::MethodSpec spec, Handler handler) {
  static const std::set<std::string> kAllowed = {"flow_library_search", "flow_get", "example_list",
                                                 "play_run_async", "play_wait"};
  if (kAllowed.count(spec.name)) {
    Method m;
    m.spec = spec;
    m.handler = handler;
    call_methods_[spec.name] = std::move(m);
  }
  spec.handler = [handler = std::move(handler)](const Params& p, api::Reply r) {
    handler(Ctx{}, p, std::make_shared<api::Reply>(std::move(r)));
  };
  return table.Add(std::move(spec));
}

#define HERO_METHOD(fn) \
  [this](const Ctx& c, const Params& p, SharedReply r) { fn(c, p, std::move(r)); }

Status Service::RegisterMethods(api::MethodTable& t) {
  using api::MethodSpec;
  // flows
  HERO_RETURN_IF_ERROR(Add(
      t,
      {.name = "flow_create",
       .summary = "Adds a flow to the library (version 1).",
       .description = "Inputs, outputs, tags and docstring come from the source's @flow "
                      "declaration (read with ast, never executed). A source without @flow is a "
                      "plain script flow and needs a name.",
       .params = {{"source", ParamType::kString, true, "the flow's Python source"},
                  {"name", ParamType::kString, false, "flow name (default: the @flow's name)"},
                  {"description", ParamType::kString, false, "overrides the @flow's description"}},
       .result_description = "the flow (without source)",
       .result_schema_json = kFlowSchema},
      HERO_METHOD(FlowCreate)));
  HERO_RETURN_IF_ERROR(Add(t,
                           {.name = "flow_update",
                            .summary = "Adds a new version of a flow and makes it current.",
                            .params = {{"name", ParamType::kString, true, "flow name"},
                                       {"source", ParamType::kString, true, "the new source"}},
                            .result_description = "the flow",
                            .result_schema_json = kFlowSchema},
                           HERO_METHOD(FlowUpdate)));
  HERO_RETURN_IF_ERROR(
      Add(t,
          {.name = "flow_get",
           .summary = "One flow version with its source.",
           .params = {{"name", ParamType::kString, true, "flow name"},
                      {"version", ParamType::kInteger, false, "version (default: current)"}},
           .result_description = "{name, version, source, description, docstring, inputs, outputs, "
                                 "tags, entry, versions}",
           .result_schema_json = kFlowSchema},
          HERO_METHOD(FlowGet)));
  HERO_RETURN_IF_ERROR(Add(t,
                           {.name = "flow_list",
                            .summary = "Every library flow with its current version (no sources).",
                            .result_schema_json = R"({"type":"array","items":{"type":"object"}})"},
                           HERO_METHOD(FlowList)));
  HERO_RETURN_IF_ERROR(Add(t,
                           {.name = "flow_delete",
                            .summary = "Removes a flow from the library.",
                            .params = {{"name", ParamType::kString, true, "flow name"}},
                            .result_schema_json = R"({"type":"object"})"},
                           HERO_METHOD(FlowDelete)));
  HERO_RETURN_IF_ERROR(Add(t,
                           {.name = "flow_versions",
                            .summary = "A flow's versions, newest first.",
                            .params = {{"name", ParamType::kString, true, "flow name"}},
                            .result_schema_json = R"({"type":"array","items":{"type":"object"}})"},
                           HERO_METHOD(FlowVersions)));
  HERO_RETURN_IF_ERROR(Add(t,
                           {.name = "flow_set_current",
                            .summary = "Makes a version the current one.",
                            .params = {{"name", ParamType::kString, true, "flow name"},
                                       {"version", ParamType::kInteger, true, "version number"}},
                            .result_schema_json = kFlowSchema},
                           HERO_METHOD(FlowSetCurrent)));
  HERO_RETURN_IF_ERROR(Add(
      t,
      {.name = "flow_library_search",
       .summary = "Ranked full-text search over name, description, tags, docstrings and inputs.",
       .params = {{"query", ParamType::kString, true, "plain text; search syntax has no effect"},
                  {"limit", ParamType::kInteger, false,
                   "at most this many hits (default 20, max 100)"}},
       .result_description = "[{name, description, score, snippet, version}], best first",
       .result_schema_json = R"({"type":"array","items":{"type":"object"}})"},
      HERO_METHOD(FlowSearch)));
  // presets
  HERO_RETURN_IF_ERROR(Add(t,
                           {.name = "example_create",
                            .summary = "Saves (or replaces) a named input preset of a flow.",
                            .params = {{"flow", ParamType::kString, true, "flow name"},
                                       {"name", ParamType::kString, true, "preset name"},
                                       {"input", ParamType::kObject, true, "the input object"}},
                            .result_schema_json = R"({"type":"object"})"},
                           HERO_METHOD(ExampleCreate)));
  HERO_RETURN_IF_ERROR(
      Add(t,
          {.name = "example_list",
           .summary = "Input presets of a flow (or of every flow).",
           .params = {{"flow", ParamType::kString, false, "flow name (default: all)"}},
           .result_schema_json = R"({"type":"array","items":{"type":"object"}})"},
          HERO_METHOD(ExampleList)));
  HERO_RETURN_IF_ERROR(Add(t,
                           {.name = "example_delete",
                            .summary = "Deletes an input preset.",
                            .params = {{"id", ParamType::kInteger, true, "preset id"}},
                            .result_schema_json = R"({"type":"object"})"},
                           HERO_METHOD(ExampleDelete)));
  // runs
  {
    auto ps = RunParams(true, false);
    ps.push_back({"wait_ms", ParamType::kInteger, false,
                  "how long to wait for the end (default: timeout_ms + 5 s)"});
    HERO_RETURN_IF_ERROR(
        Add(t,
            {.name = "play_start",
             .summary = "Runs a library flow or a source and waits for the end.",
             .description = "Returns {run, tree} once the run ended; if the wait ends first, {run, "
                            "tree: null} with the run still queued/running.",
             .params = std::move(ps),
             .result_description = "{run, tree}",
             .result_schema_json = kDocSchema},
            HERO_METHOD(PlayStart)));
  }
  HERO_RETURN_IF_ERROR(
      Add(t,
          {.name = "play_run_async",
           .summary = "Queues a run and returns its id at once.",
           .params = RunParams(true, true),
           .result_description = "{run_id}",
           .result_schema_json = R"({"type":"object","properties":{"run_id":{"type":"integer"}}})"},
          HERO_METHOD(PlayRunAsync)));
  HERO_RETURN_IF_ERROR(
      Add(t,
          {.name = "play_wait",
           .summary = "Waits until a run ended or the timeout passed.",
           .params = {{"run_id", ParamType::kInteger, true, "run id"},
                      {"timeout_ms", ParamType::kInteger, false, "default 30000"}},
           .result_description = "the run record (still queued/running after a timeout)",
           .result_schema_json = kRunSchema},
          HERO_METHOD(PlayWait)));
  HERO_RETURN_IF_ERROR(Add(t,
                           {.name = "play_status",
                            .summary = "A run's record (with queue_position while queued).",
                            .params = {{"run_id", ParamType::kInteger, true, "run id"}},
                            .result_schema_json = kRunSchema},
                           HERO_METHOD(PlayStatus)));
  HERO_RETURN_IF_ERROR(Add(
      t,
      {.name = "play_cancel",
       .summary = "Cancels a queued or running run.",
       .description = "A queued run ends cancelled at once; a running one is signalled (SIGTERM, "
                      "then SIGKILL after the grace period) and ends cancelled shortly.",
       .params = {{"run_id", ParamType::kInteger, true, "run id"}},
       .result_schema_json = kRunSchema},
      HERO_METHOD(PlayCancel)));
  HERO_RETURN_IF_ERROR(
      Add(t,
          {.name = "play_retry",
           .summary = "Starts a new run with the same flow, source, input and profile.",
           .params = {{"run_id", ParamType::kInteger, true, "the run to repeat"}},
           .result_schema_json = R"({"type":"object","properties":{"run_id":{"type":"integer"}}})"},
          HERO_METHOD(PlayRetry)));
  HERO_RETURN_IF_ERROR(Add(
      t,
      {.name = "play_list",
       .summary = "Run history, newest first, with filters and cursor pagination.",
       .params = {{"flow", ParamType::kString, false, "exact flow name"},
                  {"status", ParamType::kString, false, "run status", kStatusSchema},
                  {"since_us", ParamType::kInteger, false, "created at or after (epoch us)"},
                  {"until_us", ParamType::kInteger, false, "created before (epoch us)"},
                  {"text", ParamType::kString, false, "substring of flow name or reason"},
                  {"cursor", ParamType::kInteger, false, "next_cursor of the previous page"},
                  {"limit", ParamType::kInteger, false, "page size (default 50, max 1000)"}},
       .result_description = "{runs, next_cursor}",
       .result_schema_json =
           R"({"type":"object","properties":{"runs":{"type":"array"},"next_cursor":{"type":["integer","null"]}}})"},
      HERO_METHOD(PlayList)));
  HERO_RETURN_IF_ERROR(
      Add(t,
          {.name = "play_spans",
           .summary = "A run's span tree (the root span with nested children and logs).",
           .params = {{"run_id", ParamType::kInteger, true, "run id"},
                      {"format", ParamType::kString, false,
                       "tree (default) or columns: every span as parallel arrays, one per "
                       "field, in seq order, and the logs as log_span (span index)/log_ts_us/"
                       "log_stream/log_text arrays (the web UI's compact form)"}},
           .result_schema_json = R"({"type":["object","null"]})"},
          HERO_METHOD(PlaySpans)));
  HERO_RETURN_IF_ERROR(
      Add(t,
          {.name = "play_logs",
           .summary = "A run's log lines (of one span if given).",
           .params = {{"run_id", ParamType::kInteger, true, "run id"},
                      {"span_id", ParamType::kString, false, "the span's wire id"}},
           .result_description = "[{span_id, ts_us, stream, text}]",
           .result_schema_json = R"({"type":"array","items":{"type":"object"}})"},
          HERO_METHOD(PlayLogs)));
  HERO_RETURN_IF_ERROR(Add(
      t,
      {.name = "script_run",
       .summary = "Runs an ad-hoc script in the untrusted sandbox and answers everything at once.",
       .description = kScriptRunDescription,
       .params = ScriptRunParams(),
       .result_description = "{run_id, status, reason, exit_code, signal, failure, stdout, "
                             "stderr, output, duration_ms, cpu_ms, peak_rss_bytes, profile, "
                             "network, ui, dropped, tree, tree_truncated}",
       .result_schema_json = ScriptAnswerSchemaJson()},
      HERO_METHOD(ScriptRun)));
  HERO_RETURN_IF_ERROR(
      Add(t,
          {.name = "span_push",
           .summary = "Applies one wire event to an active run (tests).",
           .params = {{"run_id", ParamType::kInteger, true, "an active run"},
                      {"event", ParamType::kObject, true, "one wire-protocol v1 event"}},
           .result_schema_json = R"({"type":"object"})"},
          HERO_METHOD(SpanPush)));
  return Status::Ok();
}

#undef HERO_METHOD

std::string Service::RecordJson(const store::RunRecord& rec) const {
  JsonWriter w;
  WriteRunRecord(w, rec);
  std::string s = w.Take();
  if (rec.status == RunStatus::kQueued) {
    int pos = runs_->QueuePosition(rec.id);
    if (pos > 0 && !s.empty() && s.back() == '}') {
      s.pop_back();
      s += ",\"queue_position\":" + std::to_string(pos) + "}";
    }
  }
  return s;
}

// --- flows ---

void Service::FlowCreate(const Ctx&, const Params& p, SharedReply r) {
  library_->CreateAsync(std::string(p.GetString("name")), std::string(p.GetString("source")),
                        std::string(p.GetString("description")), [r](Result<store::FlowRecord> f) {
                          if (!f.ok()) return (*r)(f.status());
                          (*r)(FlowSummaryJson(*f));
                        });
}

void Service::FlowUpdate(const Ctx&, const Params& p, SharedReply r) {
  library_->UpdateAsync(std::string(p.GetString("name")), std::string(p.GetString("source")),
                        [r](Result<store::FlowRecord> f) {
                          if (!f.ok()) return (*r)(f.status());
                          (*r)(FlowSummaryJson(*f));
                        });
}

void Service::FlowGet(const Ctx&, const Params& p, SharedReply r) {
  std::string name(p.GetString("name"));
  int64_t version = p.GetInt("version", 0);
  if (version < 0)
    return (*r)(InvalidArgument("version: must be >= 1 (or absent for the current one)"));
  store_->GetFlow(name, version, [this, r, name](Result<store::FlowRecord> f) {
    if (!f.ok()) return (*r)(f.status());
    store_->ListFlowVersions(
        name, [r, f = std::move(f).value()](Result<std::vector<store::FlowVersion>> vs) {
          JsonWriter w;
          w.BeginObject();
          w.Field("name", f.name);
          w.Field("current_version", f.current_version);
          WriteFlowVersionFields(w, f.current);
          w.Field("source", f.current.source);
          w.Key("versions").BeginArray();
          if (vs.ok()) {
            for (const auto& v : *vs) w.Int(v.version);
          }
          w.EndArray();
          w.EndObject();
          (*r)(w.Take());
        });
  });
}

void Service::FlowList(const Ctx&, const Params&, SharedReply r) {
  store_->ListFlows([r](Result<std::vector<store::FlowRecord>> fs) {
    if (!fs.ok()) return (*r)(fs.status());
    JsonWriter w;
    w.BeginArray();
    for (const auto& f : *fs) WriteFlowSummary(w, f);
    w.EndArray();
    (*r)(w.Take());
  });
}

void Service::FlowDelete(const Ctx&, const Params& p, SharedReply r) {
  std::string name(p.GetString("name"));
  store_->DeleteFlow(name, [r, name](Status s) {
    if (!s.ok()) return (*r)(s);
    JsonWriter w;
    w.BeginObject().Field("name", name).Field("deleted", true).EndObject();
    (*r)(w.Take());
  });
}

void Service::FlowVersions(const Ctx&, const Params& p, SharedReply r) {
  std::string name(p.GetString("name"));
  store_->GetFlow(name, 0, [this, r, name](Result<store::FlowRecord> f) {
    if (!f.ok()) return (*r)(f.status());
    int64_t current = f->current_version;
    store_->ListFlowVersions(name, [r, current](Result<std::vector<store::FlowVersion>> vs) {
      if (!vs.ok()) return (*r)(vs.status());
      JsonWriter w;
      w.BeginArray();
      for (const auto& v : *vs) {
        w.BeginObject();
        WriteFlowVersionFields(w, v);
        w.Field("current", v.version == current);
        w.EndObject();
      }
      w.EndArray();
      (*r)(w.Take());
    });
  });
}

void Service::FlowSetCurrent(const Ctx&, const Params& p, SharedReply r) {
  store_->SetCurrentFlowVersion(std::string(p.GetString("name")), p.GetInt("version"),
                                [r](Result<store::FlowRecord> f) {
                                  if (!f.ok()) return (*r)(f.status());
                                  (*r)(FlowSummaryJson(*f));
                                });
}

void Service::FlowSearch(const Ctx&, const Params& p, SharedReply r) {
  int64_t limit = p.GetInt("limit", 20);
  if (limit < 1 || limit > 100) return (*r)(InvalidArgument("limit: must be between 1 and 100"));
  store_->SearchFlows(std::string(p.GetString("query")), static_cast<int>(limit),
                      [r](Result<std::vector<store::FlowSearchHit>> hits) {
                        if (!hits.ok()) return (*r)(hits.status());
                        JsonWriter w;
                        w.BeginArray();
                        for (const auto& h : *hits) {
                          w.BeginObject()
                              .Field("name", h.name)
                              .Field("description", h.description)
                              .Key("score")
                              .Double(h.score)
                              .Field("snippet", h.snippet)
                              .Field("version", h.version)
                              .EndObject();
                        }
                        w.EndArray();
                        (*r)(w.Take());
                      });
}

void Service::ExampleCreate(const Ctx&, const Params& p, SharedReply r) {
  store::ExampleRecord e;
  e.flow_name = std::string(p.GetString("flow"));
  e.name = std::string(p.GetString("name"));
  e.input_json = std::string(p.GetJson("input", "{}"));
  if (e.name.empty()) return (*r)(InvalidArgument("name: must not be empty"));
  store_->CreateExample(std::move(e), [r](Result<store::ExampleRecord> x) {
    if (!x.ok()) return (*r)(x.status());
    JsonWriter w;
    w.BeginObject().Field("id", x->id).Field("flow", x->flow_name).Field("name", x->name);
    w.Key("input").Raw(x->input_json).Field("created_us", x->created_us).EndObject();
    (*r)(w.Take());
  });
}

void Service::ExampleList(const Ctx&, const Params& p, SharedReply r) {
  store_->ListExamples(
      std::string(p.GetString("flow")), [r](Result<std::vector<store::ExampleRecord>> xs) {
        if (!xs.ok()) return (*r)(xs.status());
        JsonWriter w;
        w.BeginArray();
        for (const auto& x : *xs) {
          w.BeginObject().Field("id", x.id).Field("flow", x.flow_name).Field("name", x.name);
          w.Key("input").Raw(x.input_json).Field("created_us", x.created_us).EndObject();
        }
        w.EndArray();
        (*r)(w.Take());
      });
}

void Service::ExampleDelete(const Ctx&, const Params& p, SharedReply r) {
  int64_t id = p.GetInt("id");
  store_->DeleteExample(id, [r, id](Status s) {
    if (!s.ok()) return (*r)(s);
    JsonWriter w;
    w.BeginObject().Field("id", id).Field("deleted", true).EndObject();
    (*r)(w.Take());
  });
}

// --- runs ---

void Service::Submit(const Ctx& ctx, RunRequest req,
                     std::function<void(Result<store::RunRecord>)> done) {
  int depth = 0;
  if (ctx.caller.valid()) {
    int parent_depth = runs_->DepthOf(ctx.caller);
    if (parent_depth < 0) return done(FailedPrecondition("the calling run is no longer active"));
    if (parent_depth + 1 > limits_.max_child_depth) {
      return done(ResourceExhausted("child run depth limit " +
                                    std::to_string(limits_.max_child_depth) + " reached"));
    }
    if (runs_->ChildrenOf(ctx.caller) >= limits_.max_children_per_run) {
      return done(ResourceExhausted(
          "child run limit " + std::to_string(limits_.max_children_per_run) + " per run reached"));
    }
    const store::RunRecord* parent = runs_->Active(ctx.caller);
    if (parent && parent->profile == ProfileName(Profile::kUntrusted))
      req.profile = Profile::kUntrusted;
    req.parent_run = ctx.caller;
    runs_->NoteChild(ctx.caller);
    depth = parent_depth + 1;
  }
  runs_->Submit(std::move(req), depth, std::move(done));
}

void Service::GrantSecretsAndSubmit(const Ctx& ctx, RunRequest req, bool ad_hoc,
                                    std::function<void(Result<store::RunRecord>)> done) {
  req.secrets.clear();
  if (sup_->config().secrets.empty()) return Submit(ctx, std::move(req), std::move(done));
  if (ad_hoc) {
    req.secrets = script_run_secrets_;
    return Submit(ctx, std::move(req), std::move(done));
  }
  // Cheap pre-check: no inspect_flow process for a source that cannot declare secrets.
  bool from_run = ctx.caller.valid() && req.flow_version <= 0;
  if (from_run || req.source.find("secrets") == std::string::npos)
    return Submit(ctx, std::move(req), std::move(done));
  std::string source = req.source;
  library_->InspectAsync(std::move(source),
                         [this, ctx, req = std::move(req),
                          done = std::move(done)](Result<std::vector<FlowMeta>> metas) mutable {
                           // A source that does not parse runs without secrets and fails with its
                           // own error.
                           if (!metas.ok()) return Submit(ctx, std::move(req), std::move(done));
                           const FlowMeta* chosen = nullptr;
                           for (const FlowMeta& m : *metas) {
                             if (m.name == req.entry) chosen = &m;
                           }
                           if (!chosen && req.entry.empty() && metas->size() == 1)
                             chosen = &metas->front();
                           // A declared secret the operator did not configure is simply absent from
                           // the environment (model_call, for one, works without a key against an
                           // open endpoint).
                           if (chosen) {
                             for (const std::string& name : chosen->secrets) {
                               if (sup_->config().secrets.count(name)) req.secrets.push_back(name);
                             }
                           }
                           Submit(ctx, std::move(req), std::move(done));
                         });
}

void Service::SubmitFromParams(const Ctx& ctx, const Params& p, bool force_untrusted,
                               std::function<void(Result<store::RunRecord>)> done) {
  bool has_flow = HasP(p, "flow"), has_source = HasP(p, "source");
  if (has_flow == has_source)
    return done(InvalidArgument("flow, source: give exactly one of them"));
  RunRequest req;
  int64_t timeout_ms = p.GetInt("timeout_ms", kDefaultTimeoutMs);
  if (timeout_ms < 1 || timeout_ms > kMaxTimeoutMs) {
    return done(
        InvalidArgument("timeout_ms: must be between 1 and " + std::to_string(kMaxTimeoutMs)));
  }
  req.timeout = std::chrono::milliseconds(timeout_ms);
  req.input_json = std::string(p.GetJson("input", "{}"));
  req.network = p.GetBool("network", false);
  req.entry = StrP(p, "name");
  if (!ctx.caller.valid() && HasP(p, "parent_run")) {
    int64_t parent = p.GetInt("parent_run");
    if (parent <= 0) return done(InvalidArgument("parent_run: must be a run id"));
    req.parent_run = RunId{parent};
  }
  req.parent_span = StrP(p, "parent_span");
  if (HasP(p, "traceparent")) {
    auto trace = otel::ParseTraceparent(StrP(p, "traceparent"), StrP(p, "tracestate"));
    if (!trace.ok()) return done(trace.status());
    req.trace = std::move(trace).value();
  } else if (HasP(p, "tracestate")) {
    return done(InvalidArgument("tracestate: needs traceparent"));
  }
  std::string profile = StrP(p, "profile", has_source ? "untrusted" : "trusted");
  if (force_untrusted) profile = "untrusted";
  if (profile == "trusted") {
    req.profile = Profile::kTrusted;
  } else if (profile == "untrusted") {
    req.profile = Profile::kUntrusted;
  } else {
    return done(InvalidArgument("profile: must be trusted or untrusted, not '" + profile + "'"));
  }
  if (req.network && req.profile != Profile::kUntrusted)
    req.network = false;  // Tier 0 shares the host network
  if (has_source) {
    req.source = StrP(p, "source");
    req.source_name = req.entry.empty() ? "script.py" : req.entry + ".py";
    return GrantSecretsAndSubmit(ctx, std::move(req), force_untrusted, std::move(done));
  }
  std::string flow = StrP(p, "flow");
  store_->GetFlow(flow, 0,
                  [this, ctx, flow, req = std::move(req), ad_hoc = force_untrusted,
                   done = std::move(done)](Result<store::FlowRecord> f) mutable {
                    if (!f.ok()) {
                      return done(f.status().code() == StatusCode::kNotFound
                                      ? NotFound("flow '" + flow + "' not found")
                                      : f.status());
                    }
                    req.flow_name = f->name;
                    req.flow_version = f->current_version;
                    req.source = f->current.source;
                    req.source_name = f->name + ".py";
                    if (req.entry.empty()) req.entry = f->current.entry;
                    GrantSecretsAndSubmit(ctx, std::move(req), ad_hoc, std::move(done));
                  });
}

void Service::RunDocumentAsync(store::RunRecord rec,
                               std::function<void(Result<std::string>)> done) {
  RunId id = rec.id;
  store_->GetSpans(id, [this, id, rec = std::move(rec),
                        done = std::move(done)](Result<std::vector<store::SpanRow>> spans) mutable {
    if (!spans.ok()) return done(spans.status());
    store_->GetLogs(id, std::nullopt,
                    [rec = std::move(rec), spans = std::move(spans).value(),
                     done = std::move(done)](Result<std::vector<store::LogRow>> logs) mutable {
                      if (!logs.ok()) return done(logs.status());
                      SpanTree tree = BuildTree(std::move(spans), std::move(logs).value());
                      done(RunDocumentJson(rec, tree));
                    });
  });
}

void Service::PlayStart(const Ctx& ctx, const Params& p, SharedReply r) {
  int64_t timeout_ms = p.GetInt("timeout_ms", kDefaultTimeoutMs);
  int64_t wait_ms = p.GetInt("wait_ms", timeout_ms + kWaitMarginMs);
  if (wait_ms < 0) return (*r)(InvalidArgument("wait_ms: must be >= 0"));
  wait_ms = std::min<int64_t>(wait_ms, limits_.max_wait.count());
  SubmitFromParams(ctx, p, false, [this, r, wait_ms](Result<store::RunRecord> rec) {
    if (!rec.ok()) return (*r)(rec.status());
    runs_->Wait(rec->id, std::chrono::milliseconds(wait_ms),
                [this, r](Result<store::RunRecord> done) {
                  if (!done.ok()) return (*r)(done.status());
                  if (!IsTerminal(done->status))
                    return (*r)("{\"run\":" + RecordJson(*done) + ",\"tree\":null}");
                  RunDocumentAsync(std::move(done).value(),
                                   [r](Result<std::string> doc) { (*r)(std::move(doc)); });
                });
  });
}

void Service::PlayRunAsync(const Ctx& ctx, const Params& p, SharedReply r) {
  SubmitFromParams(ctx, p, false, [r](Result<store::RunRecord> rec) {
    if (!rec.ok()) return (*r)(rec.status());
    (*r)("{\"run_id\":" + std::to_string(rec->id.value) + "}");
  });
}

void Service::PlayWait(const Ctx& ctx, const Params& p, SharedReply r) {
  RunId id{p.GetInt("run_id")};
  int64_t timeout_ms = p.GetInt("timeout_ms", 30'000);
  if (timeout_ms < 0) return (*r)(InvalidArgument("timeout_ms: must be >= 0"));
  auto cap = ctx.caller.valid() ? limits_.max_call_wait : limits_.max_wait;
  timeout_ms = std::min<int64_t>(timeout_ms, cap.count());
  auto wait = [this, r, id, timeout_ms] {
    runs_->Wait(id, std::chrono::milliseconds(timeout_ms), [this, r](Result<store::RunRecord> rec) {
      if (!rec.ok()) return (*r)(rec.status());
      (*r)(RecordJson(*rec));
    });
  };
  if (!ctx.caller.valid()) return wait();
  // Over the call channel a run may wait only for its own children.
  runs_->Get(id, [r, id, caller = ctx.caller, wait](Result<store::RunRecord> rec) {
    if (!rec.ok() || !(rec->parent_run == caller)) {
      return (*r)(Status(StatusCode::kPermissionDenied,
                         "run " + std::to_string(id.value) + " is not a child of this run"));
    }
    wait();
  });
}

void Service::PlayStatus(const Ctx&, const Params& p, SharedReply r) {
  runs_->Get(RunId{p.GetInt("run_id")}, [this, r](Result<store::RunRecord> rec) {
    if (!rec.ok()) return (*r)(rec.status());
    (*r)(RecordJson(*rec));
  });
}

void Service::PlayCancel(const Ctx&, const Params& p, SharedReply r) {
  runs_->Cancel(RunId{p.GetInt("run_id")}, [this, r](Result<store::RunRecord> rec) {
    if (!rec.ok()) return (*r)(rec.status());
    (*r)(RecordJson(*rec));
  });
}

void Service::PlayRetry(const Ctx& ctx, const Params& p, SharedReply r) {
  RunId id{p.GetInt("run_id")};
  runs_->Get(id, [this, ctx, r](Result<store::RunRecord> rec) {
    if (!rec.ok()) return (*r)(rec.status());
    RunRequest req;
    req.flow_name = rec->flow_name;
    req.flow_version = rec->flow_version;
    req.input_json = rec->input_json.empty() ? "{}" : rec->input_json;
    req.profile =
        rec->profile == ProfileName(Profile::kUntrusted) ? Profile::kUntrusted : Profile::kTrusted;
    req.network = rec->network;
    req.source_name = rec->flow_name + ".py";
    // The run directory keeps the exact source the run used (also for library flows).
    ReadFileAsync(
        loop_, rec->source_path,
        [this, ctx, r, req = std::move(req)](Result<std::string> src) mutable {
          if (!src.ok())
            return (*r)(FailedPrecondition("the run's source is no longer available: " +
                                           src.status().message()));
          req.source = std::move(src).value();
          // Secrets: a library flow's by its declaration; an inline source is
          // treated as ad-hoc code (a script_run's retry must not gain any).
          auto submit = [this, ctx, r](RunRequest q) {
            bool ad_hoc = q.flow_version <= 0;
            GrantSecretsAndSubmit(ctx, std::move(q), ad_hoc, [r](Result<store::RunRecord> n) {
              if (!n.ok()) return (*r)(n.status());
              (*r)("{\"run_id\":" + std::to_string(n->id.value) + "}");
            });
          };
          if (req.flow_version <= 0) return submit(std::move(req));
          // A library flow: keep its entry (which @flow) from the version that ran.
          std::string name = req.flow_name;
          int64_t version = req.flow_version;
          store_->GetFlow(name, version,
                          [req = std::move(req), submit](Result<store::FlowRecord> f) mutable {
                            if (f.ok()) req.entry = f->current.entry;
                            submit(std::move(req));
                          });
        });
  });
}

void Service::PlayList(const Ctx&, const Params& p, SharedReply r) {
  store::RunFilter f;
  if (p.Has("status")) {
    auto s = ParseRunStatus(p.GetString("status"));
    if (!s)
      return (*r)(InvalidArgument("status: unknown run status '" +
                                  std::string(p.GetString("status")) + "'"));
    f.status = *s;
  }
  f.flow = std::string(p.GetString("flow"));
  f.since_us = p.GetInt("since_us", 0);
  f.until_us = p.GetInt("until_us", 0);
  f.text = std::string(p.GetString("text"));
  f.before_id = p.GetInt("cursor", 0);
  int64_t limit = p.GetInt("limit", 50);
  if (limit < 1 || limit > 1000) return (*r)(InvalidArgument("limit: must be between 1 and 1000"));
  if (f.before_id < 0) return (*r)(InvalidArgument("cursor: must be a next_cursor value"));
  f.limit = static_cast<int>(limit);
  store_->ListRuns(f, [this, r, limit](Result<std::vector<store::RunRecord>> runs) {
    if (!runs.ok()) return (*r)(runs.status());
    std::string out = "{\"runs\":[";
    for (size_t i = 0; i < runs->size(); ++i) {
      if (i) out += ",";
      // Queued/running runs: the live record (the store's may lag a status change).
      const store::RunRecord* live = runs_->Active((*runs)[i].id);
      out += RecordJson(live ? *live : (*runs)[i]);
    }
    out += "],\"next_cursor\":";
    out += static_cast<int64_t>(runs->size()) == limit && !runs->empty()
               ? std::to_string(runs->back().id.value)
               : "null";
    out += "}";
    (*r)(std::move(out));
  });
}

void Service::PlaySpans(const Ctx&, const Params& p, SharedReply r) {
  RunId id{p.GetInt("run_id")};
  std::string_view format = p.GetString("format", "tree");
  if (format != "tree" && format != "columns")
    return (*r)(
        InvalidArgument("format: must be tree or columns, not '" + std::string(format) + "'"));
  bool columns = format == "columns";
  runs_->Get(id, [this, r, id, columns](Result<store::RunRecord> rec) {
    if (!rec.ok()) return (*r)(rec.status());
    store_->GetSpans(id, [this, r, id, columns](Result<std::vector<store::SpanRow>> spans) {
      if (!spans.ok()) return (*r)(spans.status());
      store_->GetLogs(id, std::nullopt,
                      [this, r, columns, spans = std::move(spans).value()](
                          Result<std::vector<store::LogRow>> logs) mutable {
                        if (!logs.ok()) return (*r)(logs.status());
                        RenderRowsOffLoop(loop_, std::move(spans), std::move(logs).value(), r,
                                          [columns](std::vector<store::SpanRow> sp,
                                                    std::vector<store::LogRow> lg) {
                                            if (columns) return SpanColumnsJson(sp, lg);
                                            SpanTree tree = BuildTree(std::move(sp), std::move(lg));
                                            if (!tree.root) return std::string("null");
                                            JsonWriter w;
                                            WriteSpanNode(w, *tree.root);
                                            return w.Take();
                                          });
                      });
    });
  });
}

void Service::PlayLogs(const Ctx&, const Params& p, SharedReply r) {
  RunId id{p.GetInt("run_id")};
  std::string span_id(p.GetString("span_id"));
  bool one_span = p.Has("span_id");
  runs_->Get(id, [this, r, id, span_id, one_span](Result<store::RunRecord> rec) {
    if (!rec.ok()) return (*r)(rec.status());
    store_->GetSpans(
        id, [this, r, id, span_id, one_span](Result<std::vector<store::SpanRow>> spans) {
          if (!spans.ok()) return (*r)(spans.status());
          auto ids = std::make_shared<std::unordered_map<int64_t, std::string>>();
          std::optional<SpanSeq> seq;
          for (const auto& s : *spans) {
            (*ids)[s.seq.value] = s.span_id;
            if (one_span && s.span_id == span_id) seq = s.seq;
          }
          if (one_span && !seq) {
            return (*r)(
                NotFound("span '" + span_id + "' not found in run " + std::to_string(id.value)));
          }
          store_->GetLogs(id, seq, [r, ids](Result<std::vector<store::LogRow>> logs) {
            if (!logs.ok()) return (*r)(logs.status());
            std::string out = "[";
            bool first = true;
            for (const auto& l : *logs) {
              auto it = ids->find(l.span_seq.value);
              if (!first) out += ",";
              first = false;
              out += LogEventJson(it == ids->end() ? "" : it->second, l.ts_us, l.stream, l.text);
            }
            out += "]";
            (*r)(std::move(out));
          });
        });
  });
}

void Service::ScriptRun(const Ctx& ctx, const Params& p, SharedReply r) {
  if (!sup_->untrusted_unavailable().empty()) {
    return (*r)(FailedPrecondition("the untrusted profile is unavailable on this host: " +
                                   sup_->untrusted_unavailable()));
  }
  AnswerLimits lim;
  lim.max_output_bytes = p.GetInt("max_output_bytes", lim.max_output_bytes);
  if (lim.max_output_bytes < kMinOutputBytes || lim.max_output_bytes > kMaxOutputBytesCap) {
    return (*r)(InvalidArgument("max_output_bytes: must be " + std::to_string(kMinOutputBytes) +
                                ".." + std::to_string(kMaxOutputBytesCap)));
  }
  lim.max_output_lines = p.GetInt("max_output_lines", lim.max_output_lines);
  if (lim.max_output_lines < 1 || lim.max_output_lines > 100'000)
    return (*r)(InvalidArgument("max_output_lines: must be 1..100000"));
  const int64_t min_answer = 2 * lim.max_output_bytes + (8 << 10);
  if (p.Has("max_answer_bytes")) {
    lim.max_answer_bytes = p.GetInt("max_answer_bytes");
    if (lim.max_answer_bytes < kMinAnswerBytes || lim.max_answer_bytes > kMaxAnswerBytesCap) {
      return (*r)(InvalidArgument("max_answer_bytes: must be " + std::to_string(kMinAnswerBytes) +
                                  ".." + std::to_string(kMaxAnswerBytesCap)));
    }
    if (lim.max_answer_bytes < min_answer) {
      return (*r)(
          InvalidArgument("max_answer_bytes: must be at least 2 x max_output_bytes + "
                          "8192 (" +
                          std::to_string(min_answer) + ")"));
    }
  } else {
    lim.max_answer_bytes = std::max(lim.max_answer_bytes, 2 * lim.max_output_bytes + (64 << 10));
  }
  int64_t timeout_ms = p.GetInt("timeout_ms", kDefaultTimeoutMs);
  SubmitFromParams(ctx, p, true, [this, r, timeout_ms, lim](Result<store::RunRecord> rec) {
    if (!rec.ok()) return (*r)(rec.status());
    runs_->Wait(
        rec->id, std::chrono::milliseconds(timeout_ms + kWaitMarginMs),
        [this, r, lim](Result<store::RunRecord> done) {
          if (!done.ok()) return (*r)(done.status());
          RunId id = done->id;
          // The store reads at most the first kScriptRunMaxSpans spans (a flood run has 10^6:
          // rendering them all would cost the daemon ~1 GiB); play_spans serves the whole tree.
          store_->GetSpansHead(
              id, kScriptRunMaxSpans,
              [this, r, id, lim,
               rec = std::move(done).value()](Result<std::vector<store::SpanRow>> spans) mutable {
                if (!spans.ok()) return (*r)(spans.status());
                store_->GetLogs(
                    id, std::nullopt,
                    [this, r, lim, rec = std::move(rec), spans = std::move(spans).value()](
                        Result<std::vector<store::LogRow>> logs) mutable {
                      if (!logs.ok()) return (*r)(logs.status());
                      RenderRowsOffLoop(loop_, std::move(spans), std::move(logs).value(), r,
                                        [rec = std::move(rec), lim](std::vector<store::SpanRow> sp,
                                                                    std::vector<store::LogRow> lg) {
                                          return BuildScriptAnswer(rec, std::move(sp),
                                                                   std::move(lg), lim);
                                        });
                    });
              });
        });
  });
}

void Service::SpanPush(const Ctx&, const Params& p, SharedReply r) {
  RunId id{p.GetInt("run_id")};
  Status s = sup_->PushEvent(id, p.GetJson("event"));
  if (!s.ok()) return (*r)(s);
  (*r)(std::string("{\"applied\":true}"));
}

// --- Backend: SSE, health, metrics ---

Status Service::SubscribeRunEvents(RunId run_id, int64_t last_event_id,
                                   std::shared_ptr<api::SseStream> stream) {
  return events_->Subscribe(run_id, last_event_id, std::move(stream), runs_->max_run_id());
}

Result<std::string> Service::HealthJson() {
  const auto pending = static_cast<int64_t>(store_->pending_rows());
  if (!store_->healthy()) {
    // Runs stop reading their span sockets above backpressure_rows; say so, with the counts.
    return Unavailable("store: " + store_->last_error().message() + "; " + std::to_string(pending) +
                       " rows waiting to be written, " + std::to_string(store_->dropped_rows()) +
                       " dropped; span intake paused and new runs refused until a write succeeds");
  }
  JsonWriter w;
  w.BeginObject()
      .Field("ok", true)
      .Field("store_pending_rows", pending)
      .Field("store_dropped_rows", store_->dropped_rows())
      .Field("active_runs", static_cast<int64_t>(sup_->active_runs()))
      .Field("queued", static_cast<int64_t>(runs_->queued()))
      .Field("untrusted_available", sup_->untrusted_unavailable().empty())
      .Field("accepting", runs_->accepting())
      .Field("version", version_)
      .Key("pool")
      .Raw(sup_->PoolStatsJson())
      .EndObject();
  return w.Take();
}

std::string Service::MetricsText() {
  std::string out;
  auto line = [&out](const std::string& s) { out += s + "\n"; };
  line("# HELP hero_runs_total Runs that ended in this process, by terminal status.");
  line("# TYPE hero_runs_total counter");
  for (const char* s : {"ok", "failed", "timed_out", "cancelled", "killed", "interrupted"}) {
    auto it = runs_->finished_by_status().find(s);
    line(std::string("hero_runs_total{status=\"") + s + "\"} " +
         std::to_string(it == runs_->finished_by_status().end() ? 0 : it->second));
  }
  line("# HELP hero_runs_active Runs currently running.");
  line("# TYPE hero_runs_active gauge");
  line("hero_runs_active " + std::to_string(sup_->active_runs()));
  line("# HELP hero_queue_length Runs waiting for a slot.");
  line("# TYPE hero_queue_length gauge");
  line("hero_queue_length " + std::to_string(runs_->queued()));
  line("# HELP hero_span_events_total Span rows assembled from runs' span streams.");
  line("# TYPE hero_span_events_total counter");
  line("hero_span_events_total " + std::to_string(events_->span_events()));
  line(
      "# HELP hero_dropped_events_total Events dropped: store rows refused or abandoned, SSE "
      "events evicted from full logs.");
  line("# TYPE hero_dropped_events_total counter");
  line("hero_dropped_events_total " +
       std::to_string(store_->dropped_rows() + events_->evicted_events()));
  line("# HELP hero_calls_refused_total Call-channel requests refused (method not allowed).");
  line("# TYPE hero_calls_refused_total counter");
  line("hero_calls_refused_total " + std::to_string(calls_refused_));
  out += lag_.HistogramText("hero_loop_lag_seconds",
                            "Event loop lag (100 ms probe), every sample since start.");
  // The last minute's p99 and max as plain gauges (bench/daemon_bench.py samples them); a
  // gauge must not carry a quantile label, so each is its own metric.
  char buf[128];
  line("# HELP hero_loop_lag_recent_p99_seconds Event loop lag p99 over the last minute.");
  line("# TYPE hero_loop_lag_recent_p99_seconds gauge");
  std::snprintf(buf, sizeof buf, "hero_loop_lag_recent_p99_seconds %.6f", lag_.P99Seconds());
  line(buf);
  line("# HELP hero_loop_lag_recent_max_seconds Event loop lag max over the last minute.");
  line("# TYPE hero_loop_lag_recent_max_seconds gauge");
  std::snprintf(buf, sizeof buf, "hero_loop_lag_recent_max_seconds %.6f", lag_.MaxSeconds());
  line(buf);
  line(
      "# HELP hero_retention_runs_deleted_total Finished runs deleted by retention (age or size).");
  line("# TYPE hero_retention_runs_deleted_total counter");
  line("hero_retention_runs_deleted_total " + std::to_string(runs_->retention_runs_deleted()));
  line("# HELP hero_store_healthy 1 if the last store commit succeeded.");
  line("# TYPE hero_store_healthy gauge");
  line(std::string("hero_store_healthy ") + (store_->healthy() ? "1" : "0"));
  line("# HELP hero_store_pending_rows Rows submitted to the store and not yet committed.");
  line("# TYPE hero_store_pending_rows gauge");
  line("hero_store_pending_rows " + std::to_string(store_->pending_rows()));
  line("# HELP hero_store_dropped_rows_total Span/log rows the store refused or abandoned.");
  line("# TYPE hero_store_dropped_rows_total counter");
  line("hero_store_dropped_rows_total " + std::to_string(store_->dropped_rows()));
  out += sup_->PoolMetricsText();
  if (otel::OtlpExporter* ex = sup_->exporter()) out += ex->MetricsText();
  return out;
}

// --- CallHandler ---

void Service::HandleCall(RunId run, std::string_view method, std::string_view params_json,
                         std::function<void(Result<std::string>)> reply) {
  auto it = call_methods_.find(std::string(method));
  if (it == call_methods_.end()) {
    ++calls_refused_;
    std::string name(method.substr(0, 200));
    reply(Status(StatusCode::kPermissionDenied, "method not allowed: " + name));
    return;
  }
  auto params = api::ParseParams(it->second.spec, params_json);
  if (!params.ok()) {
    reply(params.status());
    return;
  }
  it->second.handler(Ctx{run}, *params, std::make_shared<api::Reply>(std::move(reply)));
}

}  // namespace hero::core
