// Run implementation. Ordering rules that matter:
// - the run ends when its main process exits (pidfd), not at EOF: an orphan may hold the
//   socket or pipes open forever; after the exit everything of the run is killed, then what
//   is buffered is read until EOF or the drain timeout;
// - the terminal record is committed before the finished callback (acknowledged);
// - callbacks from libuv may arrive after Cancel/Finish; every handler checks the phase.
#include "supervisor/core/run.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "sandbox/run_killer.h"
#include "sandbox/seccomp_notify.h"
#include "supervisor/api/rpc_errors.h"
#include "supervisor/base/json_writer.h"
#include "supervisor/base/log.h"
#include "supervisor/core/launch_plan.h"
#include "supervisor/core/proc_scan.h"
#include "supervisor/core/run_view.h"
#include "supervisor/loop/work.h"

namespace hero::core {
namespace {

constexpr size_t kTailBytes = 4096;
constexpr size_t kMaxPartialLine = 64 * 1024;

Status WriteFile(const std::string& path, std::string_view data, mode_t mode) {
  HERO_ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, mode));
  return WriteAll(fd.get(), data.data(), data.size()).WithContext("write " + path);
}

void AppendTail(std::string& tail, const char* data, size_t n) {
  if (n >= kTailBytes) {
    tail.assign(data + n - kTailBytes, kTailBytes);
    return;
  }
  tail.append(data, n);
  if (tail.size() > kTailBytes) tail.erase(0, tail.size() - kTailBytes);
}

}  // namespace

Run::Run(Supervisor* sup, RunId id, RunRequest req, store::RunRecord rec, RunObserver* observer,
         Supervisor::FinishedFn finished)
    : sup_(sup),
      id_(id),
      req_(std::move(req)),
      rec_(std::move(rec)),
      observer_(observer),
      finished_(std::move(finished)) {
  limits_ = LimitsFor(sup_->config(), req_);
  if (!req_.trace) {
    req_.trace = otel::NewTraceContext();
    req_.trace->propagate = sup_->exporter() != nullptr;
  }
  stream_ = std::make_unique<spans::RunStream>(sup_->config().span_limits, rec_.flow_name, this);
  out_.run = this;
  out_.stream = "stdout";
  err_.run = this;
  err_.stream = "stderr";
}

RunLimits Run::LimitsFor(const SupervisorConfig& config, const RunRequest& req) {
  RunLimits l = config.default_limits;
  l.timeout = req.timeout;
  l.cpu_seconds = std::max<int64_t>(1, 2 * ((req.timeout.count() + 999) / 1000));
  return l;
}

Run::~Run() {
  *alive_ = false;
  if (uid_acquired_) sup_->ReleaseUid(uid_);
}

Status Run::PrepareFiles(std::string* source_path, std::string* input_path, std::string* workdir,
                         const std::string& pooled_workdir) {
  namespace fs = std::filesystem;
  std::string dir = sup_->config().data_dir + "/runs/" + std::to_string(id_.value);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return IoError("create run directory " + dir + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);
  *source_path = dir + "/flow.py";
  *input_path = dir + "/input.json";
  HERO_RETURN_IF_ERROR(WriteFile(*source_path, req_.source, 0600));
  HERO_RETURN_IF_ERROR(WriteFile(*input_path, req_.input_json, 0600));
  *workdir = sup_->work_root() + "/" + std::to_string(id_.value);
  fs::remove_all(*workdir, ec);  // a leftover of an earlier database with the same id
  if (!pooled_workdir.empty()) {
    // The worker's cwd follows the directory (same inode); the boot updates HOME and TMPDIR.
    if (::rename(pooled_workdir.c_str(), workdir->c_str()) != 0) {
      return Status::FromErrno(errno, "rename the pooled workdir to " + *workdir);
    }
    return Status::Ok();  // created, chowned and chmod-ed at pre-start
  }
  fs::create_directories(*workdir, ec);
  if (ec) return IoError("create workdir " + *workdir + ": " + ec.message());
  if (uid_acquired_) {
    if (::chown(workdir->c_str(), uid_, uid_) != 0) {
      return Status::FromErrno(errno, "chown workdir");
    }
  }
  ::chmod(workdir->c_str(), 0700);
  return Status::Ok();
}

Status Run::Start() {
  if (req_.profile == Profile::kUntrusted && !sup_->untrusted_unavailable().empty()) {
    return FailedPrecondition(sup_->untrusted_unavailable());
  }
  if (sup_->per_run_uids()) {
    HERO_ASSIGN_OR_RETURN(uid_lease_, sup_->AcquireUid());
    uid_ = uid_lease_.uid;
    rec_.run_uid = uid_;
    uid_acquired_ = true;
  }
  LaunchInput in;
  in.id = id_;
  in.profile = req_.profile;
  in.uid = uid_;
  in.gid = uid_;
  in.flow_name = rec_.flow_name;
  in.entry = req_.entry;
  in.source_name = req_.source_name;
  in.limits = limits_;
  in.network = req_.network;
  for (const std::string& name : req_.secrets) {
    auto it = sup_->config().secrets.find(name);
    if (it == sup_->config().secrets.end()) return FailedPrecondition("no secret named " + name);
    in.secret_env.push_back(name + "=" + it->second);
  }
  if (trace().propagate) {
    in.traceparent = Traceparent();
    in.tracestate = trace().trace_state;
    in.span_seed = otel::SpanIdHex(trace().span_key);
  }
  HERO_RETURN_IF_ERROR(PrepareFiles(&in.source_path, &in.input_path, &in.workdir));
  if (sup_->cgroups().kind != sandbox::CgroupHost::kNone) {
    sandbox::CgroupLimits cl;
    cl.memory_bytes = static_cast<uint64_t>(limits_.memory_bytes);
    cl.pids_max = static_cast<uint64_t>(limits_.processes);
    auto cg = sandbox::RunCgroup::Create(sup_->cgroups(), "run-" + std::to_string(id_.value), cl);
    if (!cg.ok()) return cg.status().WithContext("create the run's cgroup");
    cgroup_ = std::make_unique<sandbox::RunCgroup>(std::move(cg).value());
    in.cgroup_procs = cgroup_->procs_files();
  }
  rec_.workdir = in.workdir;
  rec_.source_path = in.source_path;
  HERO_ASSIGN_OR_RETURN(LaunchPlan plan, PlanLaunch(sup_->config(), in));
  bwrap_main_ = plan.bwrap_main;

  HERO_ASSIGN_OR_RETURN(SpawnedChild spawned, SpawnWithChannels(sup_->launcher(), std::move(plan)));
  sup_->tracked_pids_.insert(spawned.proc.pid);
  Child c;
  c.ends = std::move(spawned);
  return Attach(std::move(c));
}

Status Run::StartWarm(std::unique_ptr<WarmWorker> worker) {
  WarmWorker& w = *worker;
  pooled_ = true;
  if (w.has_uid) {
    uid_lease_ = std::move(w.lease);
    uid_ = uid_lease_.uid;
    rec_.run_uid = uid_;
    uid_acquired_ = true;
    w.has_uid = false;
  }
  cgroup_ = std::move(w.cgroup);
  bwrap_main_ = w.key.profile == Profile::kUntrusted;
  // From here the process is the run's: FailStart kills and reaps it like a spawned one.
  pid_ = w.ends.proc.pid;
  Child c;
  c.ends = std::move(w.ends);
  c.pending = std::move(w.pending);
  rec_.workdir = w.workdir;  // removed at the end even if the rename below fails
  std::string source_path, input_path, workdir;
  HERO_RETURN_IF_ERROR(PrepareFiles(&source_path, &input_path, &workdir, w.workdir));
  rec_.workdir = workdir;
  rec_.source_path = source_path;
  c.dispatch = DispatchLine();
  return Attach(std::move(c));
}

std::string Run::DispatchLine() const {
  // SPAN_FORMAT.md, "Supervisor -> child": everything a cold boot gets on its command line,
  // in its environment and in its staged files.
  JsonWriter w;
  w.BeginObject()
      .Field("type", "dispatch")
      .Field("v", 1)
      .Field("run_id", std::to_string(id_.value))
      .Field("source", req_.source)
      .Field("input", req_.input_json)
      .Field("cpu_seconds", limits_.cpu_seconds);
  if (!req_.entry.empty()) w.Field("name", req_.entry);
  if (!req_.source_name.empty()) w.Field("source_name", req_.source_name);
  if (req_.profile == Profile::kTrusted) w.Field("workdir", rec_.workdir);
  if (trace().propagate) {
    w.Field("traceparent", Traceparent()).Field("span_seed", otel::SpanIdHex(trace().span_key));
    if (!trace().trace_state.empty()) w.Field("tracestate", trace().trace_state);
  }
  w.EndObject();
  std::string line = w.Take();
  line.push_back('\n');
  return line;
}

Status Run::Attach(Child c) {
  pid_ = c.ends.proc.pid;
  pidfd_ = std::move(c.ends.proc.pidfd);
  phase_ = Phase::kRunning;
  UniqueFd span_fd = std::move(c.ends.span);

  uv_loop_t* loop = sup_->loop();
  uv_poll_init(loop, pid_poll_.Allocate(this), pidfd_.get());
  pid_poll_.Initialized();
  uv_poll_start(pid_poll_.get(), UV_READABLE, &Run::OnPidfd);

  HERO_RETURN_IF_ERROR(SetNonBlocking(span_fd.get(), true));
  uv_pipe_init(loop, span_sock_.Allocate(this), 0);
  span_sock_.Initialized();
  if (int rc = uv_pipe_open(span_sock_.get(), span_fd.get()); rc != 0) {
    return Internal(std::string("uv_pipe_open(span socket): ") + uv_strerror(rc));
  }
  span_fd.Release();  // owned by the uv handle now
  span_open_ = true;
  HERO_RETURN_IF_ERROR(OpenPipe(out_, std::move(c.ends.out), "stdout"));
  HERO_RETURN_IF_ERROR(OpenPipe(err_, std::move(c.ends.err), "stderr"));
  if (c.ends.notify) {
    notify_sock_ = std::move(c.ends.notify);
    uv_poll_init(loop, notify_poll_.Allocate(this), notify_sock_.get());
    notify_poll_.Initialized();
    uv_poll_start(notify_poll_.get(), UV_READABLE, &Run::OnNotifySocket);
  }

  // A warm worker's hello was read before dispatch: the stream sees it first, as from a
  // cold child. Then the dispatch: the boot starts the flow when it reads this line.
  if (!c.pending.empty()) stream_->Feed(c.pending);
  if (!c.dispatch.empty()) WriteToChild(std::move(c.dispatch), /*call_reply=*/false);

  // The loop's clock is cached at the start of each iteration; refresh it so the timeout is
  // measured from the spawn (or the dispatch), not from an earlier moment (it would fire
  // early).
  uv_update_time(loop);
  rec_.started_us = sup_->clock()->WallMicros();
  uv_timer_init(loop, timeout_timer_.Allocate(this));
  timeout_timer_.Initialized();
  // libuv's clock has millisecond resolution (truncated): +1 ms so SIGTERM never comes
  // before the timeout measured in microseconds.
  uv_timer_start(timeout_timer_.get(), &Run::OnTimeout,
                 static_cast<uint64_t>(req_.timeout.count()) + 1, 0);
  uv_timer_init(loop, bp_timer_.Allocate(this));
  bp_timer_.Initialized();
  UpdateReadState();

  rec_.status = RunStatus::kRunning;
  sup_->store()->UpdateRun(rec_);
  if (observer_) observer_->OnStatus(rec_);
  if (pending_stop_) BeginStop(cancelled_, false, interrupted_);
  return Status::Ok();
}

Status Run::OpenPipe(Pipe& p, UniqueFd fd, const char* stream) {
  HERO_RETURN_IF_ERROR(SetNonBlocking(fd.get(), true));
  p.stream = stream;
  uv_pipe_init(sup_->loop(), p.handle.Allocate(&p), 0);
  p.handle.Initialized();
  if (int rc = uv_pipe_open(p.handle.get(), fd.get()); rc != 0) {
    return Internal(std::string("uv_pipe_open: ") + uv_strerror(rc));
  }
  fd.Release();
  p.open = true;
  uv_read_start(reinterpret_cast<uv_stream_t*>(p.handle.get()), &Run::OnPipeAlloc,
                &Run::OnPipeRead);
  return Status::Ok();
}

void Run::OnSpanAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  Run* run = static_cast<Run*>(h->data);
  *buf = run ? uv_buf_init(run->read_buf_, sizeof run->read_buf_) : uv_buf_init(nullptr, 0);
}

void Run::OnPipeAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  // The pipes share the run's buffer: libuv reads one stream at a time on this thread and
  // each read is consumed before the next allocation.
  Pipe* p = static_cast<Pipe*>(h->data);
  *buf = p ? uv_buf_init(p->run->read_buf_, sizeof p->run->read_buf_) : uv_buf_init(nullptr, 0);
}

void Run::OnPidfd(uv_poll_t* h, int, int) {
  Run* run = static_cast<Run*>(h->data);
  if (!run || run->exit_) return;
  int st = 0;
  struct rusage ru {};
  pid_t r = ::wait4(run->pid_, &st, WNOHANG, &ru);
  if (r == 0) return;  // spurious
  if (r < 0) {
    HERO_LOG(kError) << "run " << run->id_.value << ": wait4: " << std::strerror(errno);
    st = 0;
  }
  run->OnMainExit(st, ru);
}

void Run::OnMainExit(int st, const struct rusage& ru) {
  ExitInfo e;
  if (WIFSIGNALED(st)) {
    e.signaled = true;
    e.signal = WTERMSIG(st);
  } else {
    e.code = WEXITSTATUS(st);
  }
  exit_ = e;
  sup_->tracked_pids_.erase(pid_);
  sup_->ReapOrphans();  // zombies that were hidden behind this one
  pid_poll_.Close();
  pidfd_.Reset();
  rec_.cpu_us = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1'000'000LL + ru.ru_utime.tv_usec +
                ru.ru_stime.tv_usec;
  rec_.peak_rss_kb = ru.ru_maxrss;
  StopTimers();
  // Nothing the flow started may outlive its main process.
  SignalRun(SIGKILL);
  if (cgroup_) {
    // Non-blocking pass; what is still leaving is finished by the uid sweep and reaped later.
    (void)cgroup_->KillAll(std::chrono::milliseconds(0));
    if (auto cs = cgroup_->ReadStats(); cs.ok()) {
      if (cs->memory_peak_bytes)
        rec_.peak_rss_kb = std::max<int64_t>(rec_.peak_rss_kb,
                                             static_cast<int64_t>(*cs->memory_peak_bytes / 1024));
      if (cs->oom_kills && *cs->oom_kills > 0) memory_oom_ = true;
      if (cs->cpu_usage_usec)
        rec_.cpu_us = std::max<int64_t>(rec_.cpu_us, static_cast<int64_t>(*cs->cpu_usage_usec));
    }
  }
  phase_ = Phase::kDraining;
  uv_timer_init(sup_->loop(), drain_timer_.Allocate(this));
  drain_timer_.Initialized();
  uv_timer_start(drain_timer_.get(), &Run::OnDrainTimeout,
                 static_cast<uint64_t>(sup_->config().drain_timeout.count()), 0);
  UpdateReadState();
  MaybeFinishDrain();
}

void Run::StopTimers() {
  timeout_timer_.Close();
  grace_timer_.Close();
  exit_guard_timer_.Close();
}

void Run::SignalRun(int sig) {
  if (pid_ > 0 && !exit_) {
    // The launcher called setsid(): its process group is its pid.
    ::kill(-pid_, sig);
    if (sig == SIGKILL || !bwrap_main_) ::kill(pid_, sig);
  }
  if (uid_acquired_) {
    if (sig == SIGKILL || !bwrap_main_) {
      sup_->SpawnAndReap(PlanKillSweep(sup_->config(), uid_, sig),
                         UniqueFd(::fcntl(uid_lease_.lock.get(), F_DUPFD_CLOEXEC, 0)));
    } else {
      // SIGTERM to bwrap would tear the pid namespace down at once (its init dies with it)
      // and the flow would get no grace period: signal the flow's own processes instead.
      // The run's cgroup lists exactly its processes; without one, scan /proc for the uid
      // (O(host processes), so only as a fallback).
      std::vector<pid_t> pids = cgroup_ ? cgroup_->Pids() : sandbox::ListProcessesOfUid(uid_);
      for (pid_t p : pids) {
        if (ProcessName(p) != "bwrap") ::kill(p, sig);
      }
    }
  }
}

void Run::BeginStop(bool cancelled, bool timed_out, bool interrupted) {
  if (phase_ == Phase::kPreparing) {
    // Not spawned yet: Start() applies the request right after the spawn.
    pending_stop_ = true;
    cancelled_ = cancelled_ || cancelled;
    interrupted_ = interrupted_ || interrupted;
    return;
  }
  if (phase_ != Phase::kRunning) {
    if (phase_ == Phase::kStopping && interrupted) interrupted_ = true;
    return;
  }
  cancelled_ = cancelled;
  timed_out_ = timed_out;
  interrupted_ = interrupted;
  phase_ = Phase::kStopping;
  timeout_timer_.Close();
  SignalRun(SIGTERM);
  uv_timer_init(sup_->loop(), grace_timer_.Allocate(this));
  grace_timer_.Initialized();
  uv_timer_start(grace_timer_.get(), &Run::OnGrace,
                 static_cast<uint64_t>(sup_->config().grace.count()), 0);
}

void Run::FailStart(const Status& why) {
  start_error_ = why.message().empty() ? why.ToString() : why.message();
  if (pid_ > 0 && !exit_) {
    // Spawned but a handle could not be set up: end the process now and reap it.
    SignalRun(SIGKILL);
    int st = 0;
    struct rusage ru {};
    ::wait4(pid_, &st, 0, &ru);
    sup_->tracked_pids_.erase(pid_);
    exit_ = ExitInfo{true, 0, SIGKILL};
  }
  FinishRun();
}

void Run::Cancel() { BeginStop(true, false, false); }
void Run::Interrupt() { BeginStop(false, false, true); }

void Run::OnTimeout(uv_timer_t* t) {
  Run* run = static_cast<Run*>(t->data);
  if (!run) return;
  if (run->flow_returned_) {
    run->KillAfterReturn();  // the flow returned in time; only its exit is late
    return;
  }
  run->BeginStop(false, true, false);
}

void Run::OnExitGuard(uv_timer_t* t) {
  if (Run* run = static_cast<Run*>(t->data)) run->KillAfterReturn();
}

void Run::KillAfterReturn() {
  if (exit_ || exit_guard_killed_) return;
  if (phase_ != Phase::kRunning && phase_ != Phase::kStopping) return;
  // The root span ended but the process is still there: something held up interpreter exit
  // (an atexit handler, a lock left by a daemon thread). The flow's result is in; end the
  // process through the normal kill path and keep the outcome the flow reported.
  HERO_LOG(kWarn) << "run " << id_.value
                  << ": the process did not exit after the flow returned; killing it";
  exit_guard_killed_ = true;
  auto waited = std::chrono::milliseconds((sup_->clock()->WallMicros() - flow_returned_us_) / 1000);
  exit_guard_note_ =
      "the process did not exit after the flow returned; killed after " + FormatDuration(waited);
  timeout_timer_.Close();
  SignalRun(SIGKILL);
}

void Run::OnGrace(uv_timer_t* t) {
  Run* run = static_cast<Run*>(t->data);
  if (!run || run->phase_ != Phase::kStopping) return;
  run->SignalRun(SIGKILL);
}

void Run::OnDrainTimeout(uv_timer_t* t) {
  Run* run = static_cast<Run*>(t->data);
  if (!run || run->phase_ != Phase::kDraining) return;
  run->FinishRun();
}

void Run::OnBackpressureTimer(uv_timer_t* t) {
  if (Run* run = static_cast<Run*>(t->data)) run->UpdateReadState();
}

void Run::UpdateReadState() {
  if (!span_open_) return;
  bool store_ok = sup_->store()->pending_rows() < sup_->config().backpressure_rows;
  bool calls_ok = outstanding_calls_ < sup_->config().max_outstanding_calls;
  bool want = store_ok && calls_ok && phase_ != Phase::kFinishing && phase_ != Phase::kDone;
  if (want && !span_reading_) {
    uv_read_start(reinterpret_cast<uv_stream_t*>(span_sock_.get()), &Run::OnSpanAlloc,
                  &Run::OnSpanRead);
    span_reading_ = true;
  } else if (!want && span_reading_) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(span_sock_.get()));
    span_reading_ = false;
  }
  if (!store_ok && bp_timer_) {
    uv_timer_start(bp_timer_.get(), &Run::OnBackpressureTimer, 5, 0);
  }
}

void Run::OnSpanRead(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  Run* run = static_cast<Run*>(s->data);
  if (!run) return;
  if (n > 0) {
    run->stream_->Feed(std::string_view(buf->base, static_cast<size_t>(n)));
    run->UpdateReadState();
    return;
  }
  if (n == 0) return;
  // EOF or error: the child side is gone. libuv may report EOF early: a read() stops at a
  // message that carried SCM_RIGHTS (the kernel drops the fds), and a short read plus POLLHUP
  // is taken as end of stream. The peer is closed, so what is left is finite: read it all.
  uv_os_fd_t fd = -1;
  if (n == UV_EOF && uv_fileno(reinterpret_cast<uv_handle_t*>(s), &fd) == 0) {
    for (;;) {
      ssize_t got = ::read(fd, run->read_buf_, sizeof run->read_buf_);
      if (got > 0) {
        run->stream_->Feed(std::string_view(run->read_buf_, static_cast<size_t>(got)));
        continue;
      }
      if (got < 0 && errno == EINTR) continue;
      break;  // 0 = real EOF; EAGAIN = nothing more
    }
  }
  run->span_open_ = false;
  run->span_reading_ = false;
  run->span_sock_.Close();
  run->MaybeFinishDrain();
}

void Run::OnPipeRead(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  Pipe* p = static_cast<Pipe*>(s->data);
  if (!p) return;
  Run* run = p->run;
  if (n > 0) {
    run->HandlePipeData(*p, buf->base, static_cast<size_t>(n));
    return;
  }
  if (n == 0) return;
  run->FlushPipePartial(*p);
  p->open = false;
  p->handle.Close();
  run->MaybeFinishDrain();
}

void Run::HandlePipeData(Pipe& p, const char* data, size_t n) {
  AppendTail(p.tail, data, n);
  int64_t cap = sup_->config().capture_cap_bytes;
  size_t take = 0;
  if (p.captured < cap)
    take = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(n), cap - p.captured));
  if (take < n) {
    if (p.dropped == 0) {
      p.partial.append(data, take);
      p.partial += "\n[hero_logic: " + std::string(p.stream) + " truncated after " +
                   FormatBytes(cap) + "]\n";
      p.captured += static_cast<int64_t>(take);
      take = 0;
      FlushPipePartial(p);
    }
    p.dropped += static_cast<int64_t>(n - take);
    rec_.dropped_output_bytes += static_cast<int64_t>(n - take);
    if (take == 0) return;
  }
  p.captured += static_cast<int64_t>(take);
  std::string_view chunk(data, take);
  size_t last_nl = chunk.rfind('\n');
  if (last_nl == std::string_view::npos) {
    p.partial.append(chunk);
    if (p.partial.size() >= kMaxPartialLine) FlushPipePartial(p);
    return;
  }
  p.partial.append(chunk.substr(0, last_nl + 1));
  FlushPipePartial(p);
  p.partial.assign(chunk.substr(last_nl + 1));
}

void Run::FlushPipePartial(Pipe& p) {
  if (p.partial.empty()) return;
  if (&p == &err_) {
    // Lines from the launcher and the boot module explain failures before any span exists.
    std::string_view text = p.partial;
    size_t pos = 0;
    while (pos < text.size()) {
      size_t nl = text.find('\n', pos);
      std::string_view line =
          text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
      if (line.rfind("hero_launcher: ", 0) == 0 && launcher_error_.empty()) {
        launcher_error_ = std::string(line.substr(15));
      } else if (line.rfind("hero_tracing.boot: ", 0) == 0) {
        boot_error_ = std::string(line.substr(19));
      }
      if (nl == std::string_view::npos) break;
      pos = nl + 1;
    }
  }
  stream_->assembler().AddPipeLog(p.stream, sup_->clock()->WallMicros(), p.partial);
  p.partial.clear();
}

void Run::MaybeFinishDrain() {
  if (phase_ != Phase::kDraining) return;
  if (span_open_ || out_.open || err_.open) return;
  FinishRun();
}

void Run::OnNotifySocket(uv_poll_t* h, int status, int) {
  Run* run = static_cast<Run*>(h->data);
  if (!run) return;
  if (status == 0) {
    auto fd = sandbox::ReceiveListenerFd(run->notify_sock_.get());
    if (fd.ok()) {
      run->WatchListener(std::move(fd).value());
    } else if (fd.status().code() == StatusCode::kUnavailable) {
      return;  // EAGAIN: nothing yet
    }
  }
  // One listener per run: stop watching the socket after the first message or on error.
  run->notify_poll_.Close();
  run->notify_sock_.Reset();
}

void Run::WatchListener(UniqueFd fd) {
  listener_ = std::move(fd);
  uv_poll_init(sup_->loop(), listener_poll_.Allocate(this), listener_.get());
  listener_poll_.Initialized();
  uv_poll_start(listener_poll_.get(), UV_READABLE | UV_DISCONNECT, &Run::OnListener);
}

void Run::OnListener(uv_poll_t* h, int status, int events) {
  Run* run = static_cast<Run*>(h->data);
  if (!run) return;
  if (status == 0 && (events & UV_READABLE)) {
    auto blocked = sandbox::HandleNotification(run->listener_.get());
    if (blocked.ok()) {
      // The most recent one: a tripwire kills at once, so when the main process dies of it,
      // its syscall is the last one reported (earlier ones were in forked probes).
      run->blocked_syscall_ = blocked->name;
      ++run->blocked_count_;
      std::string note = "hero_logic: blocked syscall " + blocked->name + " (pid " +
                         std::to_string(blocked->pid) + " killed)\n";
      run->stream_->assembler().AddPipeLog("stderr", run->sup_->clock()->WallMicros(), note);
      return;
    }
    if (blocked.status().code() == StatusCode::kNotFound ||
        blocked.status().code() == StatusCode::kUnavailable) {
      return;  // the task died meanwhile, or a spurious wake-up
    }
  }
  if (status < 0 || (events & UV_DISCONNECT)) {
    run->listener_poll_.Close();
    run->listener_.Reset();
  }
}

void Run::OnSpan(const spans::SpanRecord& span) {
  if (span.parent_id.empty() && span.end_us != 0 && !flow_returned_ && phase_ == Phase::kRunning &&
      !exit_) {
    flow_returned_ = true;
    root_ok_ = span.status == "ok";
    flow_returned_us_ = sup_->clock()->WallMicros();
    uv_timer_init(sup_->loop(), exit_guard_timer_.Allocate(this));
    exit_guard_timer_.Initialized();
    uv_timer_start(exit_guard_timer_.get(), &Run::OnExitGuard,
                   static_cast<uint64_t>(sup_->config().exit_guard.count()), 0);
  }
  // An ad-hoc run is named after its file until the boot module renames the root to the
  // @flow entry it found.
  if (span.parent_id.empty() && req_.flow_name.empty() && span.kind == "flow_root" &&
      span.name != std::filesystem::path(req_.source_name).filename().string()) {
    rec_.flow_name = span.name;
  }
  const Redactor& redact = sup_->redactor();
  if (!redact.empty()) {
    spans::SpanRecord clean = span;
    for (std::string* s : {&clean.name, &clean.tags_json, &clean.error, &clean.error_type,
                           &clean.traceback, &clean.rpc_service, &clean.rpc_method}) {
      redact.Apply(s);
    }
    sup_->store()->PutSpan(id_, SpanRowFromRecord(clean));
    if (observer_) observer_->OnSpan(id_, clean);
    if (otel::OtlpExporter* ex = sup_->exporter()) ExportSpan(*ex, clean);  // redacted too
    return;
  }
  sup_->store()->PutSpan(id_, SpanRowFromRecord(span));
  if (observer_) observer_->OnSpan(id_, span);
  if (otel::OtlpExporter* ex = sup_->exporter()) ExportSpan(*ex, span);
}

std::string Run::Traceparent() const {
  return otel::FormatTraceparent(trace().trace_id, otel::SpanIdFor(trace().span_key, ""),
                                 trace().flags);
}

uint64_t Run::OtelSpanId(std::string_view wire_id) const {
  if (wire_id == root_wire_id_) wire_id = {};
  return otel::SpanIdFor(trace().span_key, wire_id);
}

const std::shared_ptr<const otel::RunInfo>& Run::OtelRun() {
  // Built at the first export, when the root span has named an ad-hoc run's flow.
  if (!otel_run_) {
    auto info = std::make_shared<otel::RunInfo>();
    info->trace_id = trace().trace_id;
    info->trace_state = trace().trace_state;
    info->flags = trace().flags;
    info->run_id = id_.value;
    info->flow = rec_.flow_name;
    info->flow_version = req_.flow_version;
    info->profile = std::string(ProfileName(req_.profile));
    info->parent_run_id = req_.parent_run.value;
    otel_run_ = std::move(info);
  }
  return otel_run_;
}

void Run::ExportSpan(otel::OtlpExporter& ex, const spans::SpanRecord& span) {
  const bool root = span.parent_id.empty();
  if (root) root_wire_id_ = span.span_id;
  uint64_t span_id = OtelSpanId(span.span_id);
  auto seq = static_cast<size_t>(span.seq.value);
  if (seq >= otel_ids_.size()) otel_ids_.resize(seq + 1);
  otel_ids_[seq] = span_id;
  // Exported once, when it has ended and its parent is final: a closed span whose parent has
  // not arrived is re-reported when it is attached (or adopted by the root at Finish).
  if (span.status == "running" || (!root && !span.parent_seq.valid())) return;
  otel::SpanItem it;
  it.run = OtelRun();
  it.span_id = span_id;
  it.parent_span_id = root ? trace().parent_span_id : OtelSpanId(span.parent_id);
  it.name = span.name;
  it.kind = span.kind;
  it.status = span.status;
  it.error = span.error;
  it.error_type = span.error_type;
  it.traceback = span.traceback;
  it.tags_json = span.tags_json;
  it.file = span.file;
  it.rpc_service = span.rpc_service;
  it.rpc_method = span.rpc_method;
  it.start_us = span.start_us;
  it.end_us = span.end_us;
  it.line = span.line;
  it.cpu_us = span.cpu_us;
  it.rss_kb = span.rss_kb;
  it.child_run_id = span.child_run_id;
  ex.Add(std::move(it));
}

void Run::ExportLog(otel::OtlpExporter& ex, const spans::LogRecord& log) {
  auto seq = static_cast<size_t>(log.span_seq.value);
  if (!log.span_seq.valid() || seq >= otel_ids_.size()) return;  // its span was never reported
  otel::LogItem it;
  it.run = OtelRun();
  it.span_id = otel_ids_[seq];
  it.ts_us = log.ts_us;
  it.stream = log.stream;
  it.text = log.text;
  ex.Add(std::move(it));
}

void Run::OnLog(const spans::LogRecord& log) {
  store::LogRow row;
  row.span_seq = log.span_seq;
  row.ts_us = log.ts_us;
  row.stream = log.stream;
  row.text = log.text;
  if (sup_->redactor().Apply(&row.text)) {
    spans::LogRecord clean = log;
    clean.text = row.text;
    sup_->store()->PutLog(id_, std::move(row));
    if (observer_) observer_->OnLog(id_, clean);
    if (otel::OtlpExporter* ex = sup_->exporter()) ExportLog(*ex, clean);  // redacted too
    return;
  }
  sup_->store()->PutLog(id_, std::move(row));
  if (observer_) observer_->OnLog(id_, log);
  if (otel::OtlpExporter* ex = sup_->exporter()) ExportLog(*ex, log);
}

Status Run::PushEvent(std::string_view json_line) {
  if (phase_ != Phase::kRunning && phase_ != Phase::kStopping && phase_ != Phase::kDraining) {
    return NotFound("run " + std::to_string(id_.value) + " is not active");
  }
  std::string error;
  switch (push_parser_.Parse(json_line, &push_event_, &error)) {
    case spans::ParseOutcome::kOk:
      // Not through the socket's framer: a pushed line must not splice into a partial line.
      stream_->assembler().Apply(push_event_);
      return Status::Ok();
    case spans::ParseOutcome::kMalformed:
      return InvalidArgument("event: " + error);
    case spans::ParseOutcome::kUnknownType:
      return InvalidArgument("event: unknown event type");
  }
  return Internal("unreachable");
}

void Run::OnResult(std::string_view output_json) {
  rec_.output_json = std::string(output_json);
  sup_->redactor().Apply(&rec_.output_json);
}

void Run::OnLimit(std::string_view limit, std::string_view) {
  // The first one wins: the boot module sends one, right before it exits.
  if (limit_event_.empty()) limit_event_ = std::string(limit.substr(0, 32));
}

void Run::WriteToChild(std::string line, bool call_reply) {
  // A call counts as outstanding until its reply is written to the socket, not merely
  // produced: a child that never reads its replies stalls the writes, the count stays at the
  // cap, and the run stops reading further calls — replies never queue without bound.
  auto settle = [this, call_reply] {
    if (!call_reply) return;
    --outstanding_calls_;
    UpdateReadState();
  };
  if (!span_open_ || phase_ == Phase::kFinishing || phase_ == Phase::kDone) {
    settle();
    return;
  }
  struct Write {
    uv_write_t req;
    std::string data;
    std::weak_ptr<bool> alive;
    Run* run;
    bool call_reply;
  };
  auto* w = new Write{{}, std::move(line), alive_, this, call_reply};
  uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(span_sock_.get()), &buf, 1,
                    [](uv_write_t* req, int) {
                      std::unique_ptr<Write> done(reinterpret_cast<Write*>(req));
                      auto a = done->alive.lock();
                      if (!a || !*a || !done->call_reply) return;
                      --done->run->outstanding_calls_;
                      done->run->UpdateReadState();
                    });
  if (rc != 0) {
    delete w;
    settle();
  }
}

void Run::OnCall(int64_t req, std::string_view method, std::string_view params_json) {
  auto reply = [this, req, alive = std::weak_ptr<bool>(alive_)](Result<std::string> r) {
    auto a = alive.lock();
    if (!a || !*a) return;  // the run is gone: calls after the run ended are dropped
    JsonWriter w;
    w.BeginObject().Field("type", "call_result").Field("req", req);
    if (r.ok()) {
      w.Key("result").Raw(r.value());
    } else {
      w.Key("error")
          .BeginObject()
          .Field("code", api::RpcCodeForStatus(r.status().code()))
          .Field("message", r.status().message())
          .EndObject();
    }
    w.EndObject();
    std::string line = w.Take();
    line.push_back('\n');
    WriteToChild(std::move(line), /*call_reply=*/true);
  };
  ++outstanding_calls_;
  UpdateReadState();
  if (!sup_->call_handler()) {
    reply(Status(StatusCode::kUnavailable,
                 "call channel unavailable: this run is not managed by a hero_logic daemon"));
    return;
  }
  sup_->call_handler()->HandleCall(id_, method, params_json, std::move(reply));
}

void Run::RemoveWorkdirAsync() {
  if (rec_.workdir.empty()) return;
  // Off the loop thread: a flow may leave many files. remove_all never follows symlinks out
  // of the tree (it unlinks the link), and every process of the run is dead by now.
  loop::QueueWork(
      sup_->loop(),
      [path = rec_.workdir] {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
      },
      nullptr);
}

void Run::FinishRun() {
  if (phase_ == Phase::kFinishing || phase_ == Phase::kDone) return;
  phase_ = Phase::kFinishing;
  drain_timer_.Close();
  bp_timer_.Close();
  StopTimers();
  FlushPipePartial(out_);
  FlushPipePartial(err_);
  span_sock_.Close();
  span_open_ = false;
  out_.handle.Close();
  out_.open = false;
  err_.handle.Close();
  err_.open = false;
  notify_poll_.Close();
  notify_sock_.Reset();
  listener_poll_.Close();
  listener_.Reset();

  RunFacts facts;
  facts.exit = exit_.value_or(ExitInfo{});
  if (exit_guard_killed_) {
    // Killed only for not exiting after the flow returned: decide as if the boot module had
    // exited with the code its root span implies (SPAN_FORMAT.md, "The boot module").
    facts.exit = ExitInfo{false, root_ok_ ? 0 : 1, 0};
  }
  facts.bwrap_main = bwrap_main_;
  facts.cancelled = cancelled_;
  facts.timed_out = timed_out_;
  facts.blocked_syscall = blocked_syscall_;
  facts.blocked_count = blocked_count_;
  facts.launcher_error = launcher_error_;
  facts.boot_error = boot_error_;
  facts.limits = limits_;
  facts.memory_cgroup_oom = memory_oom_;
  facts.limit_event = limit_event_;
  facts.root_open_at_exit = stream_->assembler().root_status() == "running";
  if (auto f = stream_->assembler().first_failure()) {
    facts.failure =
        FailedSpan{f->span_name, f->path.find('/') == std::string::npos, f->error_type, f->error};
  }
  Outcome outcome = DecideOutcome(facts);
  if (interrupted_)
    outcome = {RunStatus::kInterrupted, "supervisor stopped while the run was running"};
  if (!start_error_.empty())
    outcome = {RunStatus::kFailed, "could not start the run: " + start_error_};

  spans::EndOutcome end = spans::EndOutcome::kExited;
  switch (outcome.status) {
    case RunStatus::kTimedOut:
      end = spans::EndOutcome::kTimedOut;
      break;
    case RunStatus::kCancelled:
      end = spans::EndOutcome::kCancelled;
      break;
    case RunStatus::kInterrupted:
      end = spans::EndOutcome::kCancelled;
      break;
    case RunStatus::kKilled:
      end = spans::EndOutcome::kKilled;
      break;
    case RunStatus::kOk:
    case RunStatus::kFailed:
    case RunStatus::kQueued:
    case RunStatus::kRunning:
      break;
  }
  if (!facts.exit.signaled && facts.exit.code != 0 && !(bwrap_main_ && facts.exit.code > 128)) {
    stream_->assembler().SetExitedError("process exited with code " +
                                        std::to_string(facts.exit.code));
  }
  // A synthesized root (the child sent nothing) is ok only when the run is.
  stream_->Finish(
      end, outcome.status == RunStatus::kOk ? std::string_view() : std::string_view(outcome.reason),
      sup_->clock()->WallMicros());

  const spans::Stats& st = stream_->stats();
  rec_.status = outcome.status;
  rec_.reason = outcome.reason;
  rec_.exit_code = facts.exit.signaled ? -1 : facts.exit.code;
  rec_.signal = facts.exit.signaled ? facts.exit.signal : 0;
  rec_.ended_us = sup_->clock()->WallMicros();
  rec_.span_count = stream_->assembler().span_count();
  rec_.malformed_lines = st.malformed_lines;
  rec_.unknown_type_lines = st.unknown_type_lines;
  rec_.oversize_lines = st.oversize_lines;
  rec_.orphan_events = st.orphan_events;
  rec_.dropped_spans = st.dropped_spans;
  rec_.dropped_log_bytes = st.dropped_log_bytes;
  rec_.dropped_tag_events = st.dropped_tag_events;
  {
    JsonWriter w;
    w.BeginArray();
    for (const auto& d : st.diagnostics) w.String(d);
    if (st.late_events > 0) {
      w.String(std::to_string(st.late_events) +
               " event(s) for spans that had already ended were ignored");
    }
    if (!blocked_syscall_.empty())
      w.String("blocked syscall " + blocked_syscall_ + " (" + std::to_string(blocked_count_) +
               "x)");
    if (exit_guard_killed_) w.String(exit_guard_note_);
    w.EndArray();
    rec_.diagnostics_json = w.Take();
  }
  rec_.stdout_tail = SanitizeUtf8(out_.tail);
  rec_.stderr_tail = SanitizeUtf8(err_.tail);
  for (std::string* s : {&rec_.reason, &rec_.stdout_tail, &rec_.stderr_tail, &rec_.diagnostics_json,
                         &rec_.output_json}) {
    sup_->redactor().Apply(s);
  }

  RemoveWorkdirAsync();
  if (cgroup_) {
    (void)cgroup_->KillAll(std::chrono::milliseconds(0));
    cgroup_.reset();  // rmdir; a group still busy is logged and left for the next start's cleanup
  }
  sup_->store()->UpdateRun(rec_);
  sup_->store()->Flush([this, alive = std::weak_ptr<bool>(alive_)](Status s) {
    if (auto a = alive.lock(); !a || !*a) {
      return;
    }
    if (!s.ok()) HERO_LOG(kError) << "run " << id_.value << ": store flush: " << s.ToString();
    phase_ = Phase::kDone;
    if (observer_) observer_->OnStatus(rec_);
    if (finished_) finished_(rec_);
    sup_->OnRunDone(this);
  });
}

}  // namespace hero::core
