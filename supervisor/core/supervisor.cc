// Supervisor implementation: run bookkeeping, uid pool, helper processes, orphan reaping.
#include "supervisor/core/supervisor.h"

#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "sandbox/cgroup.h"
#include "sandbox/host_features.h"
#include "sandbox/run_killer.h"
#include "supervisor/base/json_writer.h"
#include "supervisor/base/log.h"
#include "supervisor/core/proc_scan.h"
#include "supervisor/core/run.h"
#include "supervisor/core/warm_pool.h"

namespace hero::core {

std::string_view ProfileName(Profile p) {
  return p == Profile::kUntrusted ? "untrusted" : "trusted";
}

struct Supervisor::Helper {
  Supervisor* sup = nullptr;
  pid_t pid = -1;
  UniqueFd pidfd;
  UniqueFd hold;  // e.g. the run uid's lease: released only once the helper has exited
  UvHandle<uv_poll_t> poll;
};

Supervisor::Supervisor(uv_loop_t* loop, SupervisorConfig config, store::Store* store,
                       ProcessLauncher* launcher, Clock* clock)
    : loop_(loop),
      config_(std::move(config)),
      redactor_(config_.secrets),
      store_(store),
      launcher_(launcher),
      clock_(clock) {}

Supervisor::~Supervisor() {
  pool_.reset();
  runs_.clear();
  graveyard_.clear();
  helpers_.clear();
}

namespace {

uint64_t Fnv1a(uint64_t h, std::string_view data) {
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

// What identifies a file for the start-up stamps below: its inode, size and mtime (a rebuilt
// or upgraded file gets new ones), "" when it cannot be stat-ed.
std::string FileIdentity(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "";
  return path + ":" + std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" +
         std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec);
}

std::string Hex(uint64_t h) {
  char hex[32];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

std::string ReadSmall(const char* path) {
  std::ifstream in(path, std::ios::binary);
  std::string s;
  std::getline(in, s);
  return s;
}

// Writes `content` to `path` through a temporary file and a rename (readers see all or
// nothing; concurrent writers of the same content are harmless).
void WriteAtomically(const std::filesystem::path& path, const std::string& content) {
  std::string tmp = path.string() + ".tmp-" + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out) return;
  }
  ::chmod(tmp.c_str(), 0644);
  if (::rename(tmp.c_str(), path.c_str()) != 0) ::unlink(tmp.c_str());
}

Result<std::string> ReadAll(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return NotFound("cannot read " + p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

Status Supervisor::StageRuntime() {
  namespace fs = std::filesystem;
  // Run uids must read the SDK and the launcher, but the checkout (or $DATA) may sit under a
  // directory they cannot traverse (/root is 0700). Stage a content-addressed copy that they
  // can read; an atomic rename makes concurrent daemons safe.
  std::vector<std::pair<fs::path, fs::path>> wanted;  // path in the staged copy, source
  wanted.push_back({"bin/hero_launcher", config_.launcher_path});
  fs::path sdk = fs::path(config_.sdk_dir) / "hero_tracing";
  std::error_code ec;
  if (!fs::is_directory(sdk, ec)) return NotFound("SDK not found at " + sdk.string());
  for (const auto& e : fs::directory_iterator(sdk, ec)) {
    if (e.path().extension() != ".py") continue;
    wanted.push_back({fs::path("py/hero_tracing") / e.path().filename(), e.path()});
  }
  // Service interface files for the agent flows (builtin_flows/services beside py/), staged
  // so that runs can read them whatever directory the checkout sits in.
  fs::path services = fs::path(config_.sdk_dir).parent_path() / "builtin_flows" / "services";
  if (fs::is_directory(services, ec)) {
    for (auto it = fs::recursive_directory_iterator(services, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_regular_file() || it->path().string().find("__pycache__") != std::string::npos)
        continue;
      wanted.push_back({fs::path("services") / fs::relative(it->path(), services), it->path()});
    }
  }
  std::sort(wanted.begin(), wanted.end());

  fs::path base = RuntimeBase();
  fs::create_directories(base, ec);
  if (ec) return IoError("create " + base.string() + ": " + ec.message());
  ::chmod(base.c_str(), 0755);

  // The stamp: a hash of every source file's identity (inode, size, mtime) names a small file
  // that holds the staged copy's name, so an unchanged tree is found with stat() calls
  // instead of reading and hashing the 700 KB launcher and the SDK at every start.
  uint64_t stamp = 1469598103934665603ULL;
  for (const auto& [rel, src] : wanted) {
    stamp = Fnv1a(Fnv1a(stamp, rel.string()), FileIdentity(src.string()));
  }
  fs::path stamp_file = base / ("stamp-" + Hex(stamp));
  std::string known = ReadSmall(stamp_file.c_str());
  if (known.rfind("rt-", 0) == 0 && known.find('/') == std::string::npos &&
      fs::exists(base / known / "bin/hero_launcher", ec)) {
    config_.runtime_dir = (base / known).string();
    return Status::Ok();
  }

  std::vector<std::pair<fs::path, std::string>> files;  // relative path, content
  for (const auto& [rel, src] : wanted) {
    HERO_ASSIGN_OR_RETURN(std::string content, ReadAll(src));
    files.push_back({rel, std::move(content)});
  }
  uint64_t h = 1469598103934665603ULL;
  for (const auto& [rel, content] : files) h = Fnv1a(Fnv1a(h, rel.string()), content);
  std::string hex = Hex(h);
  fs::path final_dir = base / (std::string("rt-") + hex);
  if (!fs::exists(final_dir / "bin/hero_launcher", ec)) {
    fs::path tmp = base / (std::string(".tmp-") + hex + "-" + std::to_string(getpid()));
    fs::remove_all(tmp, ec);
    for (const auto& [rel, content] : files) {
      fs::path p = tmp / rel;
      fs::create_directories(p.parent_path(), ec);
      std::ofstream out(p, std::ios::binary);
      out.write(content.data(), static_cast<std::streamsize>(content.size()));
      if (!out) return IoError("write " + p.string());
      out.close();
      ::chmod(p.c_str(), rel.string() == "bin/hero_launcher" ? 0755 : 0644);
    }
    ::chmod((tmp / "py").c_str(), 0755);
    // Byte-compile the staged SDK once (hash-checked .pyc: valid whatever the mtimes), so
    // runs never recompile it; they cannot write a cache themselves (read-only, and
    // PYTHONDONTWRITEBYTECODE).
    {
      SpawnSpec compile;
      compile.path = config_.python;
      compile.argv = {config_.python,
                      "-I",
                      "-m",
                      "compileall",
                      "-q",
                      "--invalidation-mode",
                      "unchecked-hash",
                      (tmp / "py").string()};
      compile.env = {"PATH=/usr/bin:/bin", "LANG=C.UTF-8"};
      auto proc = launcher_->Spawn(compile);
      if (proc.ok()) {
        int st = 0;
        ::waitpid(proc->pid, &st, 0);
      }
    }
    for (auto it = fs::recursive_directory_iterator(tmp, ec);
         it != fs::recursive_directory_iterator(); ++it) {
      ::chmod(it->path().c_str(),
              it->is_directory() ? 0755 : (it->path().filename() == "hero_launcher" ? 0755 : 0644));
    }
    ::chmod(tmp.c_str(), 0755);
    if (::rename(tmp.c_str(), final_dir.c_str()) != 0) {
      fs::remove_all(tmp, ec);  // another daemon won the race: its copy is identical
      if (!fs::exists(final_dir / "bin/hero_launcher", ec))
        return Status::FromErrno(errno, "stage runtime");
    }
  }
  config_.runtime_dir = final_dir.string();
  WriteAtomically(stamp_file, "rt-" + hex + "\n");
  return Status::Ok();
}

std::filesystem::path Supervisor::RuntimeBase() const {
  namespace fs = std::filesystem;
  if (!runtime_base_.empty()) return runtime_base_;
  return config_.runtime_dir.empty() ? (geteuid() == 0 ? fs::path("/run/hero_logic")
                                                       : fs::path(config_.data_dir) / "runtime")
                                     : fs::path(config_.runtime_dir);
}

std::string Supervisor::ProbeUntrusted() {
  namespace fs = std::filesystem;
  // The probe spawns bwrap twice (~20 ms). Its success is remembered per host state: the bwrap
  // and hero_logic binaries (identity), the boot (boot_id) and the sysctls that gate user
  // namespaces; any change re-probes. A failure is never remembered (a fixed host is seen at
  // the next start), and `hero_logic doctor` always probes.
  std::string key = FileIdentity(config_.bwrap);
  key += "|" + FileIdentity(fs::read_symlink("/proc/self/exe").string());
  key += "|" + ReadSmall("/proc/sys/kernel/random/boot_id");
  for (const char* p :
       {"/proc/sys/kernel/unprivileged_userns_clone", "/proc/sys/user/max_user_namespaces",
        "/proc/sys/kernel/apparmor_restrict_unprivileged_userns"}) {
    key += "|" + ReadSmall(p);
  }
  key += "|" + std::to_string(geteuid());
  fs::path cache = runtime_base_ / ("probe-" + Hex(Fnv1a(1469598103934665603ULL, key)) + ".ok");
  std::error_code ec;
  if (!key.empty() && fs::exists(cache, ec)) return "";
  sandbox::HostFeatures features = sandbox::ProbeHost(config_.bwrap);
  Status avail = sandbox::CheckUntrustedAvailable(features);
  if (!avail.ok()) return avail.message();
  WriteAtomically(cache, "ok\n");
  return "";
}

Status Supervisor::Init() {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(fs::path(config_.data_dir) / "runs", ec);
  if (ec) return IoError("create data directory " + config_.data_dir + ": " + ec.message());
  // Orphans of runs re-parent to us so we can reap them; a same-uid child must not be able
  // to read our memory.
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
    return Status::FromErrno(errno, "PR_SET_CHILD_SUBREAPER");
  if (prctl(PR_SET_DUMPABLE, 0) != 0) return Status::FromErrno(errno, "PR_SET_DUMPABLE");
  // A child that closes its end makes our next write fail with EPIPE; the default SIGPIPE
  // would kill the supervisor instead. (The launcher resets it to default for runs.)
  ::signal(SIGPIPE, SIG_IGN);
  // Two malloc arenas are plenty for the loop + store threads; more only fragment memory
  // that a flood of short-lived rows churns through.
  mallopt(M_ARENA_MAX, 2);
  // Fixed thresholds (setting them turns glibc's dynamic ones off): after one large free the
  // dynamic mmap threshold climbs to 32 MiB and the trim threshold to 64 MiB, and a daemon that
  // had once answered with a big tree kept ~40 MiB of free heap resident for good (measured
  // with malloc_stats: arena 1 held 9 MiB in use, RSS stayed 63 MiB after malloc_trim).
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  mallopt(M_TRIM_THRESHOLD, 8 << 20);
  per_run_uids_ = geteuid() == 0;
  runtime_base_ = RuntimeBase();
  HERO_RETURN_IF_ERROR(StageRuntime());
  // Run uids chdir into their workdir, so every ancestor must be searchable by them; the
  // data directory may not be (the default sits under /root, mode 0700).
  if (per_run_uids_) {
    work_root_ = "/var/lib/hero_logic/work/" + Hex(Fnv1a(1469598103934665603ULL, config_.data_dir));
    for (const char* d : {"/var/lib/hero_logic", "/var/lib/hero_logic/work"}) {
      fs::create_directories(d, ec);
      ::chmod(d, 0711);
    }
  } else {
    work_root_ = config_.data_dir + "/work";
  }
  if (per_run_uids_) SweepAbandonedRunUids();
  fs::create_directories(work_root_, ec);
  if (ec) return IoError("create work directory " + work_root_ + ": " + ec.message());
  ::chmod(work_root_.c_str(), per_run_uids_ ? 0711 : 0700);

  if (per_run_uids_ && config_.use_cgroups) {
    cgroups_ = sandbox::DetectCgroups();
    if (cgroups_.kind == sandbox::CgroupHost::kNone) {
      HERO_LOG(kInfo) << "cgroups: " << cgroups_.why_none << " (limits by rlimits only)";
    }
  }
  if (config_.probe_untrusted) {
    untrusted_unavailable_ = ProbeUntrusted();  // only for supervisors that may run untrusted
  } else {
    untrusted_unavailable_ = "untrusted profile not enabled in this supervisor";
  }

  uv_signal_init(loop_, sigchld_.Allocate(this));
  sigchld_.Initialized();
  uv_signal_start(sigchld_.get(), &Supervisor::OnSigchld, SIGCHLD);
  uv_unref(reinterpret_cast<uv_handle_t*>(sigchld_.get()));
  uv_idle_init(loop_, reaper_.Allocate(this));
  reaper_.Initialized();
  return Status::Ok();
}

void Supervisor::CreateRunRecord(const RunRequest& req,
                                 std::function<void(Result<store::RunRecord>)> done) {
  store::RunRecord rec;
  rec.flow_name = req.flow_name;
  if (rec.flow_name.empty()) {
    std::string stem = std::filesystem::path(req.source_name).stem().string();
    rec.flow_name = stem.empty() ? "script" : stem;
  }
  rec.flow_version = req.flow_version;
  rec.parent_run = req.parent_run;
  rec.parent_span = req.parent_span;
  rec.input_json = req.input_json;
  redactor_.Apply(&rec.input_json);
  rec.status = RunStatus::kQueued;
  rec.profile = std::string(ProfileName(req.profile));
  rec.network = req.network;
  rec.created_us = clock_->WallMicros();
  store::RunRecord copy = rec;
  store_->CreateRun(std::move(rec),
                    [copy = std::move(copy), done = std::move(done)](Result<RunId> id) mutable {
                      if (!id.ok()) {
                        done(id.status());
                        return;
                      }
                      copy.id = *id;
                      done(std::move(copy));
                    });
}

void Supervisor::StartCreatedRun(store::RunRecord rec, RunRequest req, RunObserver* observer,
                                 FinishedFn finished) {
  RunId id = rec.id;
  ResolveTrace(req);
  std::unique_ptr<WarmWorker> worker;
  if (pool_ && req.secrets.empty() &&
      (req.profile != Profile::kUntrusted || untrusted_unavailable_.empty())) {
    RunLimits limits = Run::LimitsFor(config_, req);
    worker = pool_->Take(PoolKeyFor(req, limits), limits.cpu_seconds);
  }
  auto run = std::make_unique<Run>(this, id, std::move(req), std::move(rec), observer,
                                   std::move(finished));
  Run* raw = run.get();
  runs_[id.value] = std::move(run);
  Status s = worker ? raw->StartWarm(std::move(worker)) : raw->Start();
  if (!s.ok()) raw->FailStart(s);
}

void Supervisor::ResolveTrace(RunRequest& req) const {
  if (req.trace) {
    req.trace->span_key = otel::RandomU64();
    return;
  }
  if (req.parent_run.valid()) {
    auto it = runs_.find(req.parent_run.value);
    if (it != runs_.end()) {
      otel::TraceContext ctx = it->second->trace();
      ctx.parent_span_id = it->second->OtelSpanId(req.parent_span);
      ctx.span_key = otel::RandomU64();
      req.trace = std::move(ctx);
      return;
    }
  }
  req.trace = otel::NewTraceContext();
  req.trace->propagate = config_.exporter != nullptr;
}

void Supervisor::StartWarmPool() {
  if (config_.pool_size <= 0 || pool_) return;
  // Workdirs of idle workers of a daemon that died with -9 (".pool-<pid>-<n>", pid not alive);
  // their processes were killed by SweepAbandonedRunUids.
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(work_root_, ec)) {
    std::string name = e.path().filename().string();
    if (name.rfind(".pool-", 0) != 0) continue;
    pid_t owner = static_cast<pid_t>(std::strtol(name.c_str() + 6, nullptr, 10));
    if (owner > 0 && (::kill(owner, 0) == 0 || errno == EPERM)) continue;
    std::error_code rm;
    std::filesystem::remove_all(e.path(), rm);
  }
  WarmPoolOptions o;
  o.size = config_.pool_size;
  o.idle_timeout = config_.pool_idle;
  pool_ = std::make_unique<WarmPool>(this, o);
  RunRequest trusted;
  trusted.profile = Profile::kTrusted;
  std::vector<PoolKey> keys{PoolKeyFor(trusted, Run::LimitsFor(config_, trusted))};
  if (untrusted_unavailable_.empty()) {
    RunRequest untrusted;
    untrusted.profile = Profile::kUntrusted;
    keys.push_back(PoolKeyFor(untrusted, Run::LimitsFor(config_, untrusted)));
  }
  pool_->Start(keys);
}

void Supervisor::set_pool_hold(std::function<bool()> hold) {
  if (pool_) pool_->set_hold(std::move(hold));
}

PoolStats Supervisor::pool_stats() const { return pool_ ? pool_->stats() : PoolStats{}; }

namespace {

// One table for both outputs: JSON key, metric name (prefixed hero_pool_), type, help.
struct PoolField {
  const char* key;
  const char* metric;
  const char* type;
  const char* help;
  int64_t PoolStats::*counter;
  int PoolStats::*gauge;
};
constexpr PoolField kPoolFields[] = {
    {"size", "size", "gauge", "Warm-pool target of idle workers per pool.", nullptr,
     &PoolStats::size},
    {"pools", "pools", "gauge", "Warm pools (profile, network, limits).", nullptr,
     &PoolStats::pools},
    {"idle", "idle", "gauge", "Warm-pool workers ready for a run.", nullptr, &PoolStats::idle},
    {"starting", "starting", "gauge", "Warm-pool workers being pre-started.", nullptr,
     &PoolStats::starting},
    {"hits", "hits_total", "counter", "Runs started on a pooled worker.", &PoolStats::hits,
     nullptr},
    {"misses", "misses_total", "counter", "Runs started cold while the pool was on.",
     &PoolStats::misses, nullptr},
    {"started", "started_total", "counter", "Warm-pool workers spawned.", &PoolStats::started,
     nullptr},
    {"died_idle", "died_idle_total", "counter", "Pooled workers that died while idle.",
     &PoolStats::died_idle, nullptr},
    {"recycled", "recycled_total", "counter", "Idle pooled workers recycled.", &PoolStats::recycled,
     nullptr},
    {"failed", "failed_total", "counter", "Warm-pool pre-starts that failed.", &PoolStats::failed,
     nullptr},
};

int64_t PoolValue(const PoolStats& s, const PoolField& f) {
  return f.counter ? s.*f.counter : static_cast<int64_t>(s.*f.gauge);
}

}  // namespace

std::string Supervisor::PoolStatsJson() const {
  PoolStats s = pool_stats();
  JsonWriter w;
  w.BeginObject();
  for (const PoolField& f : kPoolFields) w.Field(f.key, PoolValue(s, f));
  w.EndObject();
  return w.Take();
}

std::string Supervisor::PoolMetricsText() const {
  PoolStats s = pool_stats();
  std::string out;
  for (const PoolField& f : kPoolFields) {
    std::string name = std::string("hero_pool_") + f.metric;
    out += "# HELP " + name + " " + f.help + "\n# TYPE " + name + " " + f.type + "\n" + name + " " +
           std::to_string(PoolValue(s, f)) + "\n";
  }
  return out;
}

void Supervisor::StartRun(RunRequest req, RunObserver* observer, StartedFn started,
                          FinishedFn finished) {
  auto shared_req = std::make_shared<RunRequest>(std::move(req));
  CreateRunRecord(*shared_req, [this, shared_req, observer, started = std::move(started),
                                finished =
                                    std::move(finished)](Result<store::RunRecord> rec) mutable {
    if (!rec.ok()) {
      if (started) started(rec.status());
      return;
    }
    RunId id = rec->id;
    // The run exists (and may be cancelled) before `started` learns its id.
    StartCreatedRun(std::move(rec).value(), std::move(*shared_req), observer, std::move(finished));
    if (started) started(id);
  });
}

Status Supervisor::PushEvent(RunId id, std::string_view json_line) {
  auto it = runs_.find(id.value);
  if (it == runs_.end()) return NotFound("run " + std::to_string(id.value) + " is not active");
  return it->second->PushEvent(json_line);
}

Status Supervisor::Cancel(RunId id) {
  auto it = runs_.find(id.value);
  if (it == runs_.end()) return NotFound("run " + std::to_string(id.value) + " is not running");
  it->second->Cancel();
  return Status::Ok();
}

bool Supervisor::IsActive(RunId id) const { return runs_.count(id.value) > 0; }

void Supervisor::SweepAbandonedRunUids() {
  // A supervisor killed with -9 leaves its runs' descendants behind (only the launcher's
  // direct child had PDEATHSIG). Processes of a run uid whose lease nobody holds belong to
  // no live supervisor: kill them before their uid is handed out again.
  std::map<uid_t, std::vector<pid_t>> by_uid;
  for (auto [pid, uid] : ListProcessUids()) {
    if (uid >= config_.uid_base && uid < config_.uid_base + static_cast<uid_t>(config_.uid_count)) {
      by_uid[uid].push_back(pid);
    }
  }
  std::error_code ec;
  std::filesystem::create_directories("/run/hero_logic/uids", ec);
  for (auto& [uid, pids] : by_uid) {
    std::string path = "/run/hero_logic/uids/" + std::to_string(uid) + ".lock";
    auto fd = OpenFile(path.c_str(), O_RDWR | O_CREAT, 0600);
    if (!fd.ok() || ::flock(fd->get(), LOCK_EX | LOCK_NB) != 0) continue;  // leased: alive
    HERO_LOG(kWarn) << "killing " << pids.size() << " leftover process(es) of run uid " << uid;
    for (pid_t p : pids) ::kill(p, SIGKILL);
  }
}

Result<UidLease> Supervisor::AcquireUid() {
  // A run uid must be unique on the machine, not only in this process: the kill sweep
  // signals every process of the uid, so two supervisors (a daemon and a `hero_logic run`)
  // sharing one would kill each other's runs. Each uid is leased with an flock held for the
  // run's lifetime, and a uid that still owns processes is skipped.
  std::error_code ec;
  std::filesystem::create_directories("/run/hero_logic/uids", ec);
  uid_t span = static_cast<uid_t>(config_.uid_count);
  uid_t start = static_cast<uid_t>(getpid() * 7919u + next_uid_) % span;
  for (uid_t i = 0; i < span; ++i) {
    uid_t uid = config_.uid_base + (start + i) % span;
    if (uids_in_use_.count(uid)) continue;
    std::string path = "/run/hero_logic/uids/" + std::to_string(uid) + ".lock";
    auto fd = OpenFile(path.c_str(), O_RDWR | O_CREAT, 0600);
    if (!fd.ok()) return fd.status().WithContext("lease a run uid");
    // Leftovers of a supervisor killed with -9 were swept at Init (SweepAbandonedRunUids);
    // scanning /proc here would cost O(host processes) per launch on the loop.
    if (::flock(fd->get(), LOCK_EX | LOCK_NB) != 0) continue;
    uids_in_use_.insert(uid);
    next_uid_ = (start + i + 1) % span;
    return UidLease{uid, std::move(fd).value()};
  }
  return ResourceExhausted("no free run uid in [" + std::to_string(config_.uid_base) + ", " +
                           std::to_string(config_.uid_base + config_.uid_count) + ")");
}

void Supervisor::ReleaseUid(uid_t uid) { uids_in_use_.erase(uid); }

void Supervisor::SpawnAndReap(SpawnSpec spec, UniqueFd hold) {
  auto proc = launcher_->Spawn(spec);
  if (!proc.ok()) {
    HERO_LOG(kError) << "helper " << spec.path << ": " << proc.status().ToString();
    return;
  }
  auto h = std::make_unique<Helper>();
  h->sup = this;
  h->pid = proc->pid;
  h->pidfd = std::move(proc->pidfd);
  h->hold = std::move(hold);
  tracked_pids_.insert(h->pid);
  uv_poll_init(loop_, h->poll.Allocate(h.get()), h->pidfd.get());
  h->poll.Initialized();
  uv_poll_start(h->poll.get(), UV_READABLE, [](uv_poll_t* p, int, int) {
    auto* helper = static_cast<Helper*>(p->data);
    if (!helper) return;
    if (::waitpid(helper->pid, nullptr, WNOHANG) == 0) return;
    Supervisor* sup = helper->sup;
    sup->tracked_pids_.erase(helper->pid);
    for (auto it = sup->helpers_.begin(); it != sup->helpers_.end(); ++it) {
      if (it->get() == helper) {
        sup->helpers_.erase(it);  // closes the poll handle; its memory is freed in the close cb
        break;
      }
    }
    sup->ReapOrphans();
  });
  helpers_.push_back(std::move(h));
}

void Supervisor::OnRunDone(Run* run) {
  auto it = runs_.find(run->id().value);
  if (it == runs_.end()) return;
  // Destroy after the current callback returns: we may be inside one of the run's callbacks.
  graveyard_.push_back(std::move(it->second));
  runs_.erase(it);
  uv_idle_start(reaper_.get(), &Supervisor::OnReap);
  ReapOrphans();
  if (runs_.empty() && shutdown_done_) {
    auto done = std::move(shutdown_done_);
    shutdown_done_ = nullptr;
    done();
  }
}

void Supervisor::OnReap(uv_idle_t* h) {
  auto* sup = static_cast<Supervisor*>(h->data);
  if (!sup) return;
  sup->graveyard_.clear();
  uv_idle_stop(h);
}

void Supervisor::OnSigchld(uv_signal_t* h, int) {
  if (auto* sup = static_cast<Supervisor*>(h->data)) sup->ReapOrphans();
}

void Supervisor::ReapOrphans() {
  // Orphans of runs re-parent to us (subreaper). Peek at exited children without reaping
  // (WNOWAIT) and reap only untracked ones: tracked pids are reaped through their pidfd, and
  // waitpid(-1) would steal their exit status. A tracked zombie hides those behind it until
  // its pidfd reap, after which this runs again. No /proc scan: that is O(host processes).
  for (int i = 0; i < 256; ++i) {
    siginfo_t info{};
    if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) break;
    if (tracked_pids_.count(info.si_pid)) break;
    ::waitpid(info.si_pid, nullptr, WNOHANG);
  }
}

void Supervisor::Shutdown(std::chrono::milliseconds deadline, std::function<void()> done) {
  // Idle workers are no runs: kill them now (no uid, cgroup or workdir is left behind).
  if (pool_) pool_->Shutdown();
  auto finish = [this, done = std::move(done)]() mutable {
    sigchld_.Close();
    reaper_.Close();
    if (cgroups_.kind != sandbox::CgroupHost::kNone) (void)sandbox::RemoveCgroupParents(cgroups_);
    shutdown_timer_.Close();
    graveyard_.clear();
    // Reap the last helpers (kill sweeps exit within milliseconds) so none is left a zombie
    // for whoever inherits it.
    for (auto& h : helpers_) {
      for (int i = 0; i < 100 && ::waitpid(h->pid, nullptr, WNOHANG) == 0; ++i) ::usleep(5000);
      tracked_pids_.erase(h->pid);
    }
    helpers_.clear();
    ReapOrphans();
    // The per-data-dir parent of the workdirs is empty once every run is gone.
    if (!work_root_.empty()) ::rmdir(work_root_.c_str());
    if (done) done();
  };
  if (runs_.empty()) {
    finish();
    return;
  }
  shutdown_done_ = std::move(finish);
  uv_timer_init(loop_, shutdown_timer_.Allocate(this));
  shutdown_timer_.Initialized();
  uv_timer_start(
      shutdown_timer_.get(),
      [](uv_timer_t* t) {
        auto* sup = static_cast<Supervisor*>(t->data);
        if (!sup) return;
        for (auto& [id, run] : sup->runs_) run->Interrupt();
      },
      static_cast<uint64_t>(deadline.count()), 0);
}

}  // namespace hero::core
