// `hero_logic serve`: the daemon's composition: loop + store + Supervisor + RunService +
// FlowLibrary + Service behind the HttpServer, graceful shutdown on SIGTERM/SIGINT. Main
// (loop) thread.
#include <signal.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>
#include <uv.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "supervisor/api/http_server.h"
#include "supervisor/base/clock.h"
#include "supervisor/cli/args.h"
#include "supervisor/cli/commands.h"
#include "supervisor/cli/config_file.h"
#include "supervisor/cli/install_paths.h"
#include "supervisor/core/data_dir_lock.h"
#include "supervisor/core/event_log.h"
#include "supervisor/core/flow_library.h"
#include "supervisor/core/run_service.h"
#include "supervisor/core/service.h"
#include "supervisor/core/store_pump.h"
#include "supervisor/core/supervisor.h"
#include "supervisor/loop/memory_trimmer.h"

namespace hero::cli {
namespace {

constexpr const char* kServeHelp = R"(usage: hero_logic serve [options]

Runs the hero_logic daemon: the JSON-RPC API (POST /rpc), live run streams
(GET /api/runs/{id}/events), /metrics, /healthz and the web UI, on a Unix socket and on
TCP. Prints one line when ready:
  hero_logic: serving on unix:PATH and http://HOST:PORT
SIGTERM/SIGINT stop it gracefully: no new runs, running runs get --shutdown-grace seconds to
finish, the rest end `interrupted`.

options:
  --data DIR            data directory (default $HERO_LOGIC_DATA or ~/.local/share/hero_logic)
  --socket PATH         Unix socket (default $DATA/hero_logic.sock)
  --host HOST           TCP address (default 127.0.0.1)
  --port N              TCP port (default 8765; 0 = any free port)
  --concurrency N       runs running at once (default CPU count x 4); more wait `queued`
  --per-flow-limit N    runs of one flow running at once (default: no limit)
  --static DIR          web UI files (default PREFIX/share/hero_logic/web if it exists)
  --flows-dir DIR       builtin flows loaded into the library at start
                        (default PREFIX/share/hero_logic/builtin_flows)
  --shutdown-grace S    seconds running runs get to finish at shutdown (default 10)
  --pool N              warm pool: idle pre-started sandboxed interpreters per profile (and
                        network setting) that have imported the SDK; a run takes one and it
                        is never reused (default 2; 0 = off, every run starts cold)
  --pool-idle S         recycle a pooled worker idle for S seconds (default 300)
  --node NAME           this node's name in /metrics (hero_node_info; default: the hostname)

configuration file:
  --config PATH         read settings from a TOML file (default /etc/hero_logic/config.toml
                        for an installed copy, when it exists). Every other option of this
                        help but --check-config has a key: its name with '_' for '-'
                        (per_flow_limit = 4). Options given on the command line override the
                        file. An unknown key or a bad value stops the daemon with the file,
                        line and key.
  --check-config        print the effective settings (secret values never) and exit
  --secrets-dir DIR     one file per secret (name = file name, mode 0600); default
                        /etc/hero_logic/secrets for an installed copy, when it exists
  The file's [secrets] table (NAME = "value") and script_run_secrets = ["NAME"] configure the
  secrets flows may ask for with @flow(secrets=[...]); see docs/OPERATIONS.md.
  The [otel] table holds the OpenTelemetry settings (docs/OTEL.md) by variable name without
  OTEL_, in lower case (exporter_otlp_endpoint = "http://collector:4318"); the environment's
  OTEL_* variables win over it.

retention (finished runs only; queued and running runs are never deleted):
  --retain-days N       delete runs that ended more than N days ago (default 30; may be
                        fractional, e.g. 0.5; 0 = keep forever)
  --retain-mb N         then delete the oldest runs while the database uses more than N MiB
                        (default 2048; 0 = no size limit)
  --retain-interval S   seconds between retention passes (default 600; the first pass runs
                        after min(S, 10) seconds)
  A pass deletes the runs' records, spans and logs, then their directories $DATA/runs/<id>/,
  and prints one line with the counts; /metrics has hero_retention_runs_deleted_total.

OpenTelemetry: with OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) set, every run is
exported as an OTLP trace and its logs as OTLP log records (docs/OTEL.md); the standard
OTEL_* variables apply (protocol, headers, timeout, service name, resource attributes,
OTEL_SDK_DISABLED). /metrics then has hero_otlp_* counters.
)";

int Fail(const std::string& msg, int code = 2) {
  std::fprintf(stderr, "hero_logic: %s\n", msg.c_str());
  return code;
}

bool ParseInt(const std::string& s, int64_t lo, int64_t hi, int64_t* out) {
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || !end || *end != '\0' || v < lo || v > hi) return false;
  *out = v;
  return true;
}

// Everything the signal handler needs to stop the daemon.
struct Daemon {
  uv_loop_t* loop = nullptr;
  core::Supervisor* sup = nullptr;
  core::RunService* runs = nullptr;
  core::Service* service = nullptr;
  core::StorePump* pump = nullptr;
  loop::MemoryTrimmer* trimmer = nullptr;
  std::unique_ptr<api::HttpServer> server;
  uv_signal_t sigterm, sigint;
  // systemd's WatchdogSec=: pings WATCHDOG=1 from the loop at half the interval, so a stuck
  // loop (not just a dead process) gets the service restarted. Inactive without it.
  uv_timer_t watchdog;
  bool watchdog_on = false;
  std::chrono::milliseconds grace{10000};
  bool stopping = false;
  bool ready = false;

  void CloseLast() {
    uv_close(reinterpret_cast<uv_handle_t*>(&sigterm), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&sigint), nullptr);
    if (watchdog_on) uv_close(reinterpret_cast<uv_handle_t*>(&watchdog), nullptr);
    trimmer->Close();
    pump->Close();
  }

  void Stop() {
    if (stopping) {
      std::fprintf(stderr, "hero_logic: already stopping (waiting for runs, at most %lld s)\n",
                   static_cast<long long>(grace.count() / 1000));
      return;
    }
    stopping = true;
    sd_notify(0, "STOPPING=1\nSTATUS=stopping: waiting for running runs");
    std::fprintf(stderr, "hero_logic: stopping: no new runs; waiting for %zu running run(s)\n",
                 sup->active_runs());
    runs->BeginShutdown();
    sup->Shutdown(grace, [this] {
      service->loop_lag().Stop();
      if (server) {
        server->Shutdown([this] { CloseLast(); });
      } else {
        CloseLast();
      }
    });
  }
};

// The serve flags and their config.toml keys (the flag name with '_' for '-').
const std::set<std::string> kStringKeys = {"data",      "socket", "host",       "static",
                                           "flows-dir", "node",   "secrets-dir"};
const std::set<std::string> kNumberKeys = {"port",           "concurrency", "per-flow-limit",
                                           "shutdown-grace", "retain-days", "retain-mb",
                                           "pool",           "pool-idle",   "retain-interval"};
constexpr const char* kDefaultConfig = "/etc/hero_logic/config.toml";
constexpr const char* kDefaultSecretsDir = "/etc/hero_logic/secrets";

// Every setting of the daemon after flags, config file and defaults are merged and checked.
struct ServeSettings {
  std::string config_path;  // "" = none
  std::string data, socket, host, static_dir, flows_dir, node, secrets_dir;
  int64_t port = 8765, concurrency = 0, per_flow = 0, grace_s = 10;
  int64_t pool = 2, pool_idle_s = 300;
  double retain_days = 30;
  int64_t retain_mb = 2048, retain_interval_s = 600;
  std::map<std::string, std::string> secrets;   // name -> value (config [secrets] + secrets_dir)
  std::vector<std::string> script_run_secrets;  // granted to ad-hoc code
  std::map<std::string, std::string> otel;      // [otel]: OTEL_* variable -> value
};

// Flags override the file: the file's values fill in only what the command line left out.
// Errors name the flag, or the file, line and key the value came from.
Result<ServeSettings> ResolveSettings(const ParsedArgs& flags) {
  namespace fs = std::filesystem;
  ServeSettings st;
  ParsedArgs a = flags;
  ConfigFile file;
  std::string config = a.Get("config");
  if (!a.Has("config") && Paths().installed && fs::exists(kDefaultConfig)) config = kDefaultConfig;
  if (!config.empty()) {
    auto loaded = LoadConfigFile(config, kStringKeys, kNumberKeys);
    if (!loaded.ok()) return loaded.status();
    file = std::move(loaded).value();
    for (const auto& [k, v] : file.values) a.values.emplace(k, v);  // keeps the flag's value
    st.config_path = config;
  }
  auto bad = [&](const std::string& flag, const std::string& what) {
    bool from_file = !flags.Has(flag) && file.origin.count(flag);
    return InvalidArgument(from_file ? file.origin.at(flag) + ": " + what
                                     : "--" + flag + " " + what);
  };
  auto get_int = [&](const std::string& flag, int64_t lo, int64_t hi, int64_t* out) {
    return !a.Has(flag) || ParseInt(a.Get(flag), lo, hi, out);
  };
  st.data = ResolveDataDir(a.Get("data"));
  st.socket = a.Get("socket", st.data + "/hero_logic.sock");
  st.host = a.Get("host", "127.0.0.1");
  st.concurrency = std::max<int64_t>(1, std::thread::hardware_concurrency()) * 4;
  if (!get_int("port", 0, 65535, &st.port)) return bad("port", "must be 0..65535");
  if (!get_int("concurrency", 1, 100000, &st.concurrency))
    return bad("concurrency", "must be a number >= 1");
  if (!get_int("per-flow-limit", 0, 100000, &st.per_flow))
    return bad("per-flow-limit", "must be a number >= 0");
  if (!get_int("shutdown-grace", 0, 86400, &st.grace_s))
    return bad("shutdown-grace", "must be a number of seconds");
  if (!get_int("pool", 0, 64, &st.pool)) return bad("pool", "must be a number 0..64 (0 = off)");
  if (!get_int("pool-idle", 1, 86400, &st.pool_idle_s))
    return bad("pool-idle", "must be a number of seconds >= 1");
  if (a.Has("retain-days")) {
    char* end = nullptr;
    std::string v = a.Get("retain-days");
    st.retain_days = std::strtod(v.c_str(), &end);
    if (v.empty() || !end || *end != '\0' || !(st.retain_days >= 0) || st.retain_days > 36500) {
      return bad("retain-days", "must be a number of days >= 0 (0 = keep forever)");
    }
  }
  if (!get_int("retain-mb", 0, int64_t{1} << 30, &st.retain_mb))
    return bad("retain-mb", "must be a number of MiB >= 0 (0 = no size limit)");
  if (!get_int("retain-interval", 1, 86400 * 7, &st.retain_interval_s))
    return bad("retain-interval", "must be a number of seconds >= 1");
  std::error_code ec;
  st.static_dir = a.Get("static");
  if (!a.Has("static") && fs::is_directory(Paths().web_dir, ec)) st.static_dir = Paths().web_dir;
  st.flows_dir = a.Get("flows-dir", Paths().flows_dir);
  st.node = a.Get("node");
  st.secrets = file.secrets;
  st.otel = file.otel;
  st.secrets_dir = a.Get("secrets-dir");
  if (!a.Has("secrets-dir") && Paths().installed && fs::is_directory(kDefaultSecretsDir, ec))
    st.secrets_dir = kDefaultSecretsDir;
  if (!st.secrets_dir.empty()) {
    auto dir = LoadSecretsDir(st.secrets_dir);
    if (!dir.ok()) return dir.status();
    for (auto& [name, value] : *dir) {
      if (!st.secrets.emplace(name, value).second)
        return InvalidArgument("secret " + name + " is defined both in [secrets] and in " +
                               st.secrets_dir);
    }
  }
  for (const std::string& name : file.script_run_secrets) {
    if (!st.secrets.count(name)) {
      return InvalidArgument(file.path + ": key 'script_run_secrets': no secret named " + name);
    }
  }
  st.script_run_secrets = file.script_run_secrets;
  return st;
}

// `serve --check-config`: the effective settings as config.toml text (secret values never).
void PrintSettings(const ServeSettings& st) {
  auto str = [](const char* k, const std::string& v) {
    std::string q;
    for (char c : v) {
      if (c == '"' || c == '\\') q += '\\';
      q += c;
    }
    std::printf("%s = \"%s\"\n", k, q.c_str());
  };
  auto num = [](const char* k, int64_t v) {
    std::printf("%s = %lld\n", k, static_cast<long long>(v));
  };
  std::printf("# effective settings%s%s\n", st.config_path.empty() ? "" : " (config: ",
              st.config_path.empty() ? "" : (st.config_path + ")").c_str());
  str("data", st.data);
  str("socket", st.socket);
  str("host", st.host);
  num("port", st.port);
  num("concurrency", st.concurrency);
  num("per_flow_limit", st.per_flow);
  str("static", st.static_dir);
  str("flows_dir", st.flows_dir);
  num("shutdown_grace", st.grace_s);
  num("pool", st.pool);
  num("pool_idle", st.pool_idle_s);
  std::printf("retain_days = %.17g\n", st.retain_days);
  num("retain_mb", st.retain_mb);
  num("retain_interval", st.retain_interval_s);
  str("node", st.node);
  str("secrets_dir", st.secrets_dir);
  std::printf("script_run_secrets = [");
  for (size_t i = 0; i < st.script_run_secrets.size(); ++i)
    std::printf("%s\"%s\"", i ? ", " : "", st.script_run_secrets[i].c_str());
  std::printf("]\n# secrets (values not shown):");
  for (const auto& [name, value] : st.secrets) std::printf(" %s", name.c_str());
  std::printf("\n");
  if (!st.otel.empty()) std::printf("[otel]\n");
  for (const auto& [var, value] : st.otel) {
    std::string key = var.substr(5);  // OTEL_
    for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (var.find("HEADERS") != std::string::npos) {
      std::printf("# %s: set (value not shown)\n", key.c_str());  // may hold API keys
    } else {
      std::printf("%s = \"%s\"\n", key.c_str(), value.c_str());
    }
  }
}

}  // namespace

int ServeCommand(const Args& argv) {
  std::set<std::string> with_value = kStringKeys;
  with_value.insert(kNumberKeys.begin(), kNumberKeys.end());
  with_value.insert("config");
  auto parsed = ParseArgs(argv, with_value, {"check-config"});
  if (!parsed.ok()) return Fail(parsed.status().message());
  const ParsedArgs& a = *parsed;
  if (a.Has("help")) {
    std::fputs(kServeHelp, stdout);
    return 0;
  }
  if (!a.positional.empty()) return Fail("serve takes no positional arguments (see --help)");
  auto settings = ResolveSettings(a);
  if (!settings.ok()) return Fail(settings.status().message());
  const ServeSettings& cfg_in = *settings;
  if (a.Has("check-config")) {
    PrintSettings(cfg_in);
    return 0;
  }
  namespace fs = std::filesystem;
  const std::string& data = cfg_in.data;
  const std::string& socket_path = cfg_in.socket;
  const int64_t port = cfg_in.port, concurrency = cfg_in.concurrency, per_flow = cfg_in.per_flow,
                grace_s = cfg_in.grace_s, pool = cfg_in.pool, pool_idle_s = cfg_in.pool_idle_s;
  const double retain_days = cfg_in.retain_days;
  const int64_t retain_mb = cfg_in.retain_mb, retain_interval_s = cfg_in.retain_interval_s;
  std::error_code ec;
  const std::string& static_dir = cfg_in.static_dir;
  const std::string& flows_dir = cfg_in.flows_dir;

  // A client that disconnects mid-write must not kill the daemon (also before the server).
  ::signal(SIGPIPE, SIG_IGN);

  fs::create_directories(data, ec);
  if (ec) return Fail("cannot create data directory " + data + ": " + ec.message(), 1);
  uv_loop_t loop;
  uv_loop_init(&loop);
  core::StorePump pump(&loop);
  auto abort_early = [&](const std::string& msg) {
    pump.Close();
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return Fail(msg, 1);
  };
  store::Store::Options so;
  so.path = data + "/hero_logic.db";
  so.wake = [&pump] { pump.Wake(); };
  auto st = store::Store::Open(std::move(so));
  if (!st.ok()) return abort_early(st.status().message());
  std::unique_ptr<store::Store> store = std::move(st).value();
  pump.set_store(store.get());
  bool alone = false;
  auto lock = core::DataDirLock::Acquire(data, &alone);
  if (!lock.ok()) return abort_early(lock.status().message());
  if (alone) {
    auto n = store->RecoverInterrupted(WallMicrosNow());
    if (n.ok() && *n > 0)
      std::fprintf(stderr, "hero_logic: marked %d run(s) of a previous process interrupted\n", *n);
  }
  int64_t max_id = 0;
  {
    store::RunFilter f;
    f.limit = 1;
    auto newest = store->ListRunsSync(f);
    if (newest.ok() && !newest->empty()) max_id = newest->front().id.value;
  }

  // OTLP export (docs/OTEL.md); service.instance.id is the node (--node, default the host
  // name, as in hero_node_info). Declared before the supervisor: destroyed after it, sending
  // what is queued.
  std::unique_ptr<otel::OtlpExporter> exporter =
      otel::ExporterFromEnvironment(cfg_in.node, cfg_in.otel);

  core::SupervisorConfig cfg;
  cfg.exporter = exporter.get();
  cfg.data_dir = data;
  cfg.launcher_path = Paths().launcher;
  cfg.sdk_dir = Paths().sdk_dir;
  cfg.pool_size = static_cast<int>(pool);
  cfg.pool_idle = std::chrono::milliseconds(pool_idle_s * 1000);
  cfg.secrets = cfg_in.secrets;
  core::PosixSpawnLauncher launcher;
  SystemClock clock;
  core::Supervisor sup(&loop, cfg, store.get(), &launcher, &clock);
  if (Status s = sup.Init(); !s.ok()) return abort_early(s.message());

  core::RunEvents events(store.get(), core::EventLogLimits{});
  core::RunQueue::Limits ql;
  ql.concurrency = static_cast<int>(concurrency);
  ql.per_flow = static_cast<int>(per_flow);
  core::RunService runs(&loop, &sup, store.get(), &events, ql);
  runs.set_on_pruned([&events](const std::vector<RunId>& ids) {
    for (RunId id : ids) events.Forget(id);
  });
  runs.NoteExistingMaxId(max_id);
  // The pool's CPU budget: nothing is pre-started while runs wait for a slot.
  sup.StartWarmPool();
  sup.set_pool_hold([&runs] { return runs.queued() > 0; });
  {
    core::RetentionOptions ro;
    ro.max_age = std::chrono::microseconds(static_cast<int64_t>(retain_days * 86400.0 * 1e6));
    ro.max_bytes = retain_mb << 20;
    ro.interval = std::chrono::milliseconds(retain_interval_s * 1000);
    ro.runs_dir = data + "/runs";
    ro.work_root = sup.work_root();
    runs.StartRetention(std::move(ro));
  }
  core::FlowLibrary library(&loop, &sup, store.get());
  core::Service service(&loop, &sup, store.get(), &runs, &events, &library, core::ServiceLimits{},
                        Version());
  sup.set_call_handler(&service);
  service.set_script_run_secrets(cfg_in.script_run_secrets);
  service.loop_lag().Start();
  // Freed heap goes back to the kernel: after a span flood most of the peak is free but still
  // resident in malloc's arenas (224 MiB -> 47 MiB measured after E51).
  loop::MemoryTrimmer trimmer(&loop, std::chrono::seconds(5), size_t{16} << 20);
  if (Status s = trimmer.Start(); !s.ok()) {
    std::fprintf(stderr, "hero_logic: memory trimmer: %s\n", s.message().c_str());
  }

  Daemon d;
  d.trimmer = &trimmer;
  d.loop = &loop;
  d.sup = &sup;
  d.runs = &runs;
  d.service = &service;
  d.pump = &pump;
  d.grace = std::chrono::milliseconds(grace_s * 1000);
  uv_signal_init(&loop, &d.sigterm);
  uv_signal_init(&loop, &d.sigint);
  d.sigterm.data = &d;
  d.sigint.data = &d;
  auto on_signal = [](uv_signal_t* h, int) { static_cast<Daemon*>(h->data)->Stop(); };
  uv_signal_start(&d.sigterm, on_signal, SIGTERM);
  uv_signal_start(&d.sigint, on_signal, SIGINT);
  if (uint64_t usec = 0; sd_watchdog_enabled(0, &usec) > 0 && usec >= 2000) {
    uv_timer_init(&loop, &d.watchdog);
    d.watchdog_on = true;
    uint64_t every_ms = usec / 2000;
    uv_timer_start(
        &d.watchdog, [](uv_timer_t*) { sd_notify(0, "WATCHDOG=1"); }, every_ms, every_ms);
  }

  api::HttpServer::Options ho;
  ho.unix_socket_path = socket_path;
  ho.tcp_host = cfg_in.host;
  ho.node = cfg_in.node;
  ho.tcp_port = static_cast<int>(port);
  ho.static_dir = static_dir;
  if (fs::is_directory(Paths().dashboards_dir, ec)) ho.dashboards_dir = Paths().dashboards_dir;
  ho.version = Version();
  int exit_code = 0;
  // The library is loaded before the server listens, so the first client sees the builtins.
  library.LoadBuiltinsAsync(flows_dir, [&](Result<int> loaded) {
    if (!loaded.ok())
      std::fprintf(stderr, "hero_logic: builtin flows: %s\n", loaded.status().message().c_str());
    if (d.stopping) return;
    auto server = api::HttpServer::Create(&loop, ho, &service);
    if (!server.ok()) {
      std::fprintf(stderr, "hero_logic: %s\n", server.status().message().c_str());
      exit_code = 1;
      d.Stop();
      return;
    }
    d.server = std::move(server).value();
    d.ready = true;
    // systemd Type=notify: ready once the socket is bound, the store open and the builtins
    // loaded (a no-op without $NOTIFY_SOCKET).
    sd_notifyf(0, "READY=1\nSTATUS=serving on %s and http://%s:%d",
               d.server->unix_socket_path().c_str(), ho.tcp_host.c_str(), d.server->tcp_port());
    std::printf("hero_logic: serving on unix:%s and http://%s:%d\n",
                d.server->unix_socket_path().c_str(), ho.tcp_host.c_str(), d.server->tcp_port());
    std::fflush(stdout);
  });

  uv_run(&loop, UV_RUN_DEFAULT);
  d.server.reset();
  int rc = uv_loop_close(&loop);
  if (rc != 0) std::fprintf(stderr, "hero_logic: warning: loop closed with handles open\n");
  return exit_code;
}

}  // namespace hero::cli
