// Local CLI commands: `run` drives a Supervisor on its own loop; `runs` and `show` read the
// store directly (SQLite WAL allows a daemon to write meanwhile).
#include "supervisor/cli/commands.h"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "sandbox/host_features.h"
#include "supervisor/base/clock.h"
#include "supervisor/base/run_status.h"
#include "supervisor/cli/args.h"
#include "supervisor/cli/install_paths.h"
#include "supervisor/cli/tree_printer.h"
#include "supervisor/core/data_dir_lock.h"
#include "supervisor/core/run_view.h"
#include "supervisor/core/store_pump.h"
#include "supervisor/core/supervisor.h"

namespace hero::cli {
namespace {

constexpr const char* kRunHelp = R"(usage: hero_logic run FILE.py [options]

Runs a flow file (a Python file with a @flow entry, or a plain script) in a sandbox and
prints its span tree live: steps appear when they start, with status and duration when
they end, and logs under the step that printed them.

options:
  --input JSON          input object for the flow (default {})
  --input-file PATH     read the input object from a file
  --name FLOW           which @flow to run when the file declares several
  --profile P           trusted (Tier 0, default) or untrusted (Tier 1: bubblewrap + seccomp)
  --timeout S           wall-clock timeout in seconds (default 60)
  --network             allow network access (untrusted profile only; off by default)
  --traceparent TP      W3C traceparent: the run's root span continues this trace
  --tracestate TS       W3C tracestate passed on with --traceparent
  --json                print one JSON document {"run": ..., "tree": ...} on stdout at the
                        end; the live tree goes to stderr
  --quiet               no live tree
  --stats               at the end, print this supervisor process's own peak RSS and CPU
                        time on stderr (measured before --json renders the document)
  --data DIR            data directory (default $HERO_LOGIC_DATA or ~/.local/share/hero_logic)
  --remote              run it on the daemon (play_run_async) and follow its tree live
  --socket PATH         the daemon's Unix socket for --remote (default $DATA/hero_logic.sock)

OpenTelemetry: with OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) set, the run is
exported as an OTLP trace (docs/OTEL.md); at exit the CLI waits at most
OTEL_EXPORTER_OTLP_TIMEOUT (default 10 s) for the collector.

exit codes:
  0    ok
  1    failed (an exception, flow.Failed, a non-zero exit, or bad flow/input)
  2    usage error (bad options, unreadable file)
  124  timed out
  125  killed by a sandbox limit (memory, CPU, processes, file size, blocked syscall)
       or interrupted (the supervisor stopped)
  130  cancelled (Ctrl-C)
)";

constexpr const char* kRunsHelp = R"(usage: hero_logic runs [options]

Lists past runs, newest first.

options:
  --status S     only runs with this status (queued, running, ok, failed, timed_out,
                 cancelled, killed, interrupted)
  --flow NAME    only runs of this flow
  --search TEXT  flow name or reason contains TEXT
  --limit N      at most N runs (default 20)
  --before ID    runs older than run ID (pagination)
  --json         print the run records as a JSON array
  --data DIR     data directory
)";

constexpr const char* kShowHelp = R"(usage: hero_logic show RUN [options]

Prints one stored run: its record and span tree with logs, errors and tracebacks.

options:
  --json          print {"run": ..., "tree": ...} (the same document as `run --json`)
  --follow        follow the run live from the daemon (its tree as it grows); exits with
                  the run's exit code (see `run --help`) when it ends
  --socket PATH   the daemon's Unix socket for --follow (default $DATA/hero_logic.sock)
  --data DIR      data directory
)";

constexpr const char* kDoctorHelp = R"(usage: hero_logic doctor

Reports which isolation features this host offers (bubblewrap, user namespaces, seccomp
user notification, cgroups) and which sandbox profiles are available.
)";

Result<std::string> ReadFileText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<std::unique_ptr<store::Store>> OpenStore(const std::string& data_dir,
                                                std::function<void()> wake) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) return IoError("cannot create data directory " + data_dir + ": " + ec.message());
  store::Store::Options o;
  o.path = data_dir + "/hero_logic.db";
  o.wake = std::move(wake);
  return store::Store::Open(std::move(o));
}

int Fail(const std::string& msg, int code = 2) {
  std::fprintf(stderr, "hero_logic: %s\n", msg.c_str());
  return code;
}

}  // namespace

std::string ResolveDataDir(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* e = getenv("HERO_LOGIC_DATA"); e && *e) return e;
  const char* home = getenv("HOME");
  return std::string(home && *home ? home : "/tmp") + "/.local/share/hero_logic";
}

// `run --stats`: this supervisor process's own cost (all its threads, not the run's
// processes). Peak RSS is VmHWM of this process's address space: getrusage's ru_maxrss would
// also count the parent's image that this process was vfork-exec'ed from. The escape battery
// uses it for the "supervisor RSS grows < N MiB" EXPECT lines.
void PrintSupervisorStats() {
  long hwm_kb = -1;
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmHWM:", 0) == 0) hwm_kb = std::strtol(line.c_str() + 6, nullptr, 10);
  }
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  std::fprintf(stderr, "supervisor: peak RSS %ld KiB, CPU %.3f s user + %.3f s sys\n", hwm_kb,
               ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
               ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
}

int RunCommand(const Args& argv) {
  auto parsed = ParseArgs(argv,
                          {"input", "input-file", "name", "profile", "timeout", "data", "socket",
                           "traceparent", "tracestate"},
                          {"json", "network", "quiet", "remote", "stats"});
  if (!parsed.ok()) return Fail(parsed.status().message());
  const ParsedArgs& a = *parsed;
  if (a.Has("help")) {
    std::fputs(kRunHelp, stdout);
    return 0;
  }
  if (a.Has("remote")) return RemoteRunCommand(a);
  if (a.positional.size() != 1)
    return Fail("run needs exactly one FILE.py (see hero_logic run --help)");
  const std::string file = a.positional[0];
  auto source = ReadFileText(file);
  if (!source.ok()) return Fail(source.status().message());

  core::RunRequest req;
  req.source = std::move(source).value();
  req.source_name = std::filesystem::absolute(file).string();
  req.entry = a.Get("name");
  if (a.Has("input") && a.Has("input-file")) return Fail("give --input or --input-file, not both");
  req.input_json = a.Get("input", "{}");
  if (a.Has("input-file")) {
    auto in = ReadFileText(a.Get("input-file"));
    if (!in.ok()) return Fail(in.status().message());
    req.input_json = *in;
  }
  std::string profile = a.Get("profile", "trusted");
  if (profile == "trusted") {
    req.profile = core::Profile::kTrusted;
  } else if (profile == "untrusted") {
    req.profile = core::Profile::kUntrusted;
  } else {
    return Fail("--profile must be trusted or untrusted, not '" + profile + "'");
  }
  if (a.Has("timeout")) {
    auto s = ParseSeconds(a.Get("timeout"), 86400 * 7);
    if (!s) return Fail("--timeout must be a number of seconds in (0, 604800]");
    req.timeout = std::chrono::milliseconds(static_cast<int64_t>(*s * 1000));
  }
  req.network = a.Has("network");
  if (req.network && req.profile != core::Profile::kUntrusted) {
    // Tier 0 shares the host network anyway; the flag only means something under Tier 1.
    req.network = false;
  }
  if (a.Has("traceparent")) {
    auto trace = otel::ParseTraceparent(a.Get("traceparent"), a.Get("tracestate"));
    if (!trace.ok()) return Fail("--" + trace.status().message());
    req.trace = std::move(trace).value();
  } else if (a.Has("tracestate")) {
    return Fail("--tracestate needs --traceparent");
  }
  // Declared before the supervisor so it is destroyed after it: the destructor sends what is
  // queued, waiting at most OTEL_EXPORTER_OTLP_TIMEOUT.
  std::unique_ptr<otel::OtlpExporter> exporter = otel::ExporterFromEnvironment("");

  uv_loop_t loop;
  uv_loop_init(&loop);
  core::StorePump pump(&loop);
  auto st = OpenStore(ResolveDataDir(a.Get("data")), [&pump] { pump.Wake(); });
  if (!st.ok()) {
    pump.Close();
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return Fail(st.status().message(), 1);
  }
  std::unique_ptr<store::Store> store = std::move(st).value();
  pump.set_store(store.get());
  bool alone = false;
  auto lock = core::DataDirLock::Acquire(ResolveDataDir(a.Get("data")), &alone);
  if (!lock.ok()) {
    pump.Close();
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return Fail(lock.status().message(), 1);
  }
  // Runs another live supervisor (a daemon, another `run`) owns are not ours to interrupt.
  if (alone) (void)store->RecoverInterrupted(WallMicrosNow());

  core::SupervisorConfig cfg;
  cfg.data_dir = ResolveDataDir(a.Get("data"));
  cfg.launcher_path = Paths().launcher;
  cfg.sdk_dir = Paths().sdk_dir;
  cfg.probe_untrusted = req.profile == core::Profile::kUntrusted;
  cfg.exporter = exporter.get();
  core::PosixSpawnLauncher launcher;
  SystemClock clock;
  core::Supervisor sup(&loop, cfg, store.get(), &launcher, &clock);
  if (Status s = sup.Init(); !s.ok()) {
    pump.Close();
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return Fail(s.message(), 1);
  }

  bool json = a.Has("json");
  FILE* live_out = json ? stderr : stdout;
  LivePrinter printer(live_out, StyleFor(live_out));
  store::RunRecord final_rec;
  RunId run_id;
  std::string start_error;

  uv_signal_t sigint, sigterm;
  uv_signal_init(&loop, &sigint);
  uv_signal_init(&loop, &sigterm);
  auto on_signal = [](uv_signal_t* h, int) {
    auto* ctx = static_cast<std::pair<core::Supervisor*, RunId*>*>(h->data);
    if (ctx->second->valid()) (void)ctx->first->Cancel(*ctx->second);
  };
  std::pair<core::Supervisor*, RunId*> sig_ctx{&sup, &run_id};
  sigint.data = &sig_ctx;
  sigterm.data = &sig_ctx;
  uv_signal_start(&sigint, on_signal, SIGINT);
  uv_signal_start(&sigterm, on_signal, SIGTERM);

  auto close_all = [&] {
    sup.Shutdown(std::chrono::milliseconds(0), [&] {
      uv_close(reinterpret_cast<uv_handle_t*>(&sigint), nullptr);
      uv_close(reinterpret_cast<uv_handle_t*>(&sigterm), nullptr);
      pump.Close();
    });
  };
  sup.StartRun(
      std::move(req), a.Has("quiet") ? nullptr : &printer,
      [&](Result<RunId> id) {
        if (!id.ok()) {
          start_error = id.status().message();
          close_all();
          return;
        }
        run_id = *id;
      },
      [&](const store::RunRecord& rec) {
        final_rec = rec;
        close_all();
      });
  uv_run(&loop, UV_RUN_DEFAULT);
  int rc = uv_loop_close(&loop);
  if (rc != 0) std::fprintf(stderr, "hero_logic: warning: loop closed with handles open\n");
  if (!start_error.empty()) return Fail(start_error, 1);
  if (a.Has("stats")) PrintSupervisorStats();

  if (json) {
    auto spans = store->GetSpansSync(run_id);
    auto logs = store->GetLogsSync(run_id, std::nullopt);
    core::SpanTree tree =
        core::BuildTree(spans.ok() ? std::move(spans).value() : std::vector<store::SpanRow>{},
                        logs.ok() ? std::move(logs).value() : std::vector<store::LogRow>{});
    std::string doc = core::RunDocumentJson(final_rec, tree);
    std::fwrite(doc.data(), 1, doc.size(), stdout);
    std::fputc('\n', stdout);
  }
  PrintRunSummary(live_out, final_rec, StyleFor(live_out));
  return ExitCodeForStatus(final_rec.status);
}

int RunsCommand(const Args& argv) {
  auto parsed = ParseArgs(argv, {"status", "flow", "search", "limit", "before", "data"}, {"json"});
  if (!parsed.ok()) return Fail(parsed.status().message());
  const ParsedArgs& a = *parsed;
  if (a.Has("help")) {
    std::fputs(kRunsHelp, stdout);
    return 0;
  }
  if (!a.positional.empty()) return Fail("runs takes no positional arguments (see --help)");
  store::RunFilter f;
  if (a.Has("status")) {
    auto s = ParseRunStatus(a.Get("status"));
    if (!s) return Fail("unknown --status '" + a.Get("status") + "'");
    f.status = *s;
  }
  f.flow = a.Get("flow");
  f.text = a.Get("search");
  f.limit = std::atoi(a.Get("limit", "20").c_str());
  if (f.limit <= 0 || f.limit > 10000) return Fail("--limit must be between 1 and 10000");
  f.before_id = std::atoll(a.Get("before", "0").c_str());
  auto st = OpenStore(ResolveDataDir(a.Get("data")), nullptr);
  if (!st.ok()) return Fail(st.status().message(), 1);
  auto runs = (*st)->ListRunsSync(f);
  if (!runs.ok()) return Fail(runs.status().message(), 1);
  if (a.Has("json")) {
    JsonWriter w;
    w.BeginArray();
    for (const auto& r : *runs) core::WriteRunRecord(w, r);
    w.EndArray();
    std::printf("%s\n", w.str().c_str());
    return 0;
  }
  PrintStyle style = StyleFor(stdout);
  std::printf("%-7s %-11s %-24s %-20s %-9s %s\n", "ID", "STATUS", "FLOW", "STARTED", "DURATION",
              "REASON");
  for (const auto& r : *runs) {
    char when[32] = "-";
    time_t t = static_cast<time_t>((r.started_us ? r.started_us : r.created_us) / 1'000'000);
    struct tm tmv;
    localtime_r(&t, &tmv);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tmv);
    std::string status(RunStatusName(r.status));
    std::string colored =
        style.color
            ? std::string(r.status == RunStatus::kOk ? "\033[32m" : "\033[31m") + status + "\033[0m"
            : status;
    std::printf("%-7lld %s%*s %-24.24s %-20s %-9s %s\n", static_cast<long long>(r.id.value),
                colored.c_str(), static_cast<int>(11 - status.size()), "", r.flow_name.c_str(),
                when, FormatSpanDuration(r.started_us, r.ended_us).c_str(), r.reason.c_str());
  }
  if (runs->empty()) std::printf("(no runs)\n");
  return 0;
}

int ShowCommand(const Args& argv) {
  auto parsed = ParseArgs(argv, {"data", "socket"}, {"json", "follow"});
  if (!parsed.ok()) return Fail(parsed.status().message());
  const ParsedArgs& a = *parsed;
  if (a.Has("help")) {
    std::fputs(kShowHelp, stdout);
    return 0;
  }
  if (a.positional.size() != 1) return Fail("show needs exactly one RUN id (see --help)");
  char* end = nullptr;
  long long id = std::strtoll(a.positional[0].c_str(), &end, 10);
  if (!end || *end != '\0' || id <= 0)
    return Fail("RUN must be a run id (a positive number), not '" + a.positional[0] + "'");
  if (a.Has("follow")) return ShowFollowCommand(a, RunId{id});
  auto st = OpenStore(ResolveDataDir(a.Get("data")), nullptr);
  if (!st.ok()) return Fail(st.status().message(), 1);
  auto rec = (*st)->GetRunSync(RunId{id});
  if (!rec.ok()) return Fail(rec.status().message(), 1);
  auto spans = (*st)->GetSpansSync(RunId{id});
  auto logs = (*st)->GetLogsSync(RunId{id}, std::nullopt);
  if (!spans.ok()) return Fail(spans.status().message(), 1);
  if (!logs.ok()) return Fail(logs.status().message(), 1);
  core::SpanTree tree = core::BuildTree(std::move(spans).value(), std::move(logs).value());
  if (a.Has("json")) {
    std::printf("%s\n", core::RunDocumentJson(*rec, tree).c_str());
    return 0;
  }
  PrintStyle style = StyleFor(stdout);
  PrintTree(stdout, tree, style);
  PrintRunSummary(stdout, *rec, style);
  if (!rec->output_json.empty()) std::printf("output: %s\n", rec->output_json.c_str());
  return 0;
}

int DoctorCommand(const Args& argv) {
  auto parsed = ParseArgs(argv, {}, {});
  if (!parsed.ok()) return Fail(parsed.status().message());
  if (parsed->Has("help")) {
    std::fputs(kDoctorHelp, stdout);
    return 0;
  }
  sandbox::HostFeatures f = sandbox::ProbeHost("/usr/bin/bwrap");
  std::printf("%s", sandbox::DescribeHost(f).c_str());
  Status s = sandbox::CheckUntrustedAvailable(f);
  std::printf("profiles:\n  trusted    available%s\n  untrusted  %s\n",
              geteuid() == 0 ? " (per-run uids)"
                             : " (same uid as the supervisor: no isolation between runs)",
              s.ok() ? "available" : ("UNAVAILABLE: " + s.message()).c_str());
  return 0;
}

int MainHelp() {
  std::fputs(R"(usage: hero_logic COMMAND [options]

hero_logic runs Python flows as sandboxed subprocesses and shows every run as a live span tree.

commands:
  run FILE.py     run a flow file and watch its span tree live
  runs            list past runs (filters: --status, --flow, --limit)
  show RUN        print one stored run with its tree (--json; --follow: live from the daemon)
  serve           run the daemon (JSON-RPC API, live streams, web UI)
  cancel RUN      cancel a queued or running run on the daemon
  flows           the daemon's flow library: list, add FILE.py, search QUERY
  doctor          report the host's sandboxing features and available profiles
  smoke           run every built-in flow with its smoke inputs (CI: --offline, --junit FILE)

Every command takes --help; --version prints the version and git commit. Data lives in
--data DIR, $HERO_LOGIC_DATA or ~/.local/share/hero_logic.
)",
             stdout);
  return 0;
}

}  // namespace hero::cli
