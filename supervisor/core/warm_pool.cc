// WarmPool implementation. Why the order matters:
// - a worker is handed out only after its hello line was read (the SDK is imported and the boot
//   is about to block in read()), and only if its pidfd is not readable at that instant, so a
//   worker that died while idle never becomes a run;
// - everything a cold run acquires (uid lease, workdir, cgroup) is acquired at pre-start and
//   moves into the Run at dispatch; a worker that dies or is recycled gets the same kill sweep
//   and cleanup as a finished run;
// - at most one pre-start is in flight per pool and none while hold() says the run queue is
//   saturated: the pool's CPU budget.
#include "supervisor/core/warm_pool.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "supervisor/base/log.h"
#include "supervisor/core/launch_plan.h"

namespace hero::core {
namespace {

constexpr std::chrono::milliseconds kTickFast{250};
constexpr std::chrono::milliseconds kTickSlow{2000};
constexpr size_t kMaxPending = 4096;  // a hello is ~60 bytes

bool PidfdReadable(int fd) {
  struct pollfd p {
    fd, POLLIN, 0
  };
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)) != 0;
}

}  // namespace

PoolKey PoolKeyFor(const RunRequest& req, const RunLimits& limits) {
  PoolKey k;
  k.profile = req.profile;
  k.network = req.profile == Profile::kUntrusted && req.network;
  k.memory_bytes = limits.memory_bytes;
  k.file_size_bytes = limits.file_size_bytes;
  k.processes = limits.processes;
  return k;
}

WarmPool::WarmPool(Supervisor* sup, WarmPoolOptions opts) : sup_(sup), opts_(opts) {
  stats_.size = opts_.size;
}

WarmPool::~WarmPool() { Shutdown(); }

void WarmPool::Start(const std::vector<PoolKey>& keys) {
  if (!enabled() || shut_down_) return;
  if (!tick_) {
    uv_timer_init(sup_->loop(), tick_.Allocate(this));
    tick_.Initialized();
    auto period = opts_.idle_timeout < std::chrono::seconds(10) ? kTickFast : kTickSlow;
    uv_timer_start(tick_.get(), &WarmPool::OnTick, static_cast<uint64_t>(period.count()),
                   static_cast<uint64_t>(period.count()));
    // The pool alone must not keep the loop alive (shutdown closes it anyway).
    uv_unref(reinterpret_cast<uv_handle_t*>(tick_.get()));
  }
  for (const PoolKey& k : keys) Refill(PoolFor(k));
}

WarmPool::Pool& WarmPool::PoolFor(const PoolKey& key) {
  auto& p = pools_[key];
  if (!p) {
    p = std::make_unique<Pool>();
    p->key = key;
  }
  return *p;
}

std::unique_ptr<WarmWorker> WarmPool::Take(const PoolKey& key, int64_t cpu_seconds) {
  if (!enabled() || shut_down_) return nullptr;
  Pool& p = PoolFor(key);
  std::unique_ptr<WarmWorker> taken;
  if (cpu_seconds <= opts_.cpu_cap_seconds) {
    for (auto it = p.slots.begin(); it != p.slots.end(); ++it) {
      Slot& s = **it;
      if (!s.ready || s.killing) continue;
      // Died a moment ago and the loop has not seen it yet: leave it to OnPidfd.
      if (PidfdReadable(s.w->ends.proc.pidfd.get())) continue;
      s.pid_poll.Close();
      s.span_poll.Close();
      taken = std::move(s.w);
      p.slots.erase(it);
      break;
    }
  }
  if (taken) {
    ++stats_.hits;
  } else {
    ++stats_.misses;
  }
  Refill(p);
  return taken;
}

void WarmPool::Refill(Pool& p) {
  if (!enabled() || shut_down_) return;
  if (hold_ && hold_()) return;
  if (std::chrono::steady_clock::now() < p.retry_at) return;
  int live = 0;
  for (const auto& s : p.slots) {
    if (s->killing) continue;
    if (!s->ready) return;  // one pre-start in flight per pool
    ++live;
  }
  if (live >= opts_.size) return;
  if (Status st = StartOne(p); !st.ok()) {
    NoteFailure(p);
    HERO_LOG(kWarn) << "warm pool (" << ProfileName(p.key.profile)
                    << "): pre-start failed: " << st.ToString();
  }
}

void WarmPool::NoteFailure(Pool& p) {
  // Back off exponentially (0.5 s .. 32 s) so a broken host does not spin the CPU.
  ++stats_.failed;
  p.failures = std::min(p.failures + 1, 7);
  p.retry_at = std::chrono::steady_clock::now() + std::chrono::milliseconds(250 << p.failures);
}

Status WarmPool::StartOne(Pool& p) {
  namespace fs = std::filesystem;
  auto w = std::make_unique<WarmWorker>();
  w->key = p.key;
  if (p.key.profile == Profile::kUntrusted && !sup_->untrusted_unavailable().empty()) {
    return FailedPrecondition(sup_->untrusted_unavailable());
  }
  const int64_t seq = ++seq_;
  const std::string name = "pool-" + std::to_string(::getpid()) + "-" + std::to_string(seq);
  uid_t uid = 0;
  if (sup_->per_run_uids()) {
    HERO_ASSIGN_OR_RETURN(w->lease, sup_->AcquireUid());
    uid = w->lease.uid;
    w->has_uid = true;
  }
  // From here on a failure must undo the lease, workdir and cgroup: Cleanup does.
  struct Undo {
    WarmPool* pool;
    WarmWorker* w;
    bool armed = true;
    ~Undo() {
      if (armed) pool->Cleanup(*w);
    }
  } undo{this, w.get()};

  w->workdir = sup_->work_root() + "/." + name;
  std::error_code ec;
  fs::remove_all(w->workdir, ec);
  fs::create_directories(w->workdir, ec);
  if (ec) return IoError("create workdir " + w->workdir + ": " + ec.message());
  if (w->has_uid && ::chown(w->workdir.c_str(), uid, uid) != 0)
    return Status::FromErrno(errno, "chown workdir");
  ::chmod(w->workdir.c_str(), 0700);

  LaunchInput in;
  in.profile = p.key.profile;
  in.uid = uid;
  in.gid = uid;
  in.workdir = w->workdir;
  in.network = p.key.network;
  in.warm = true;
  in.limits = sup_->config().default_limits;
  in.limits.memory_bytes = p.key.memory_bytes;
  in.limits.file_size_bytes = p.key.file_size_bytes;
  in.limits.processes = p.key.processes;
  in.limits.cpu_seconds = opts_.cpu_cap_seconds;
  if (sup_->cgroups().kind != sandbox::CgroupHost::kNone) {
    sandbox::CgroupLimits cl;
    cl.memory_bytes = static_cast<uint64_t>(p.key.memory_bytes);
    cl.pids_max = static_cast<uint64_t>(p.key.processes);
    auto cg = sandbox::RunCgroup::Create(sup_->cgroups(), name, cl);
    if (!cg.ok()) return cg.status().WithContext("create the worker's cgroup");
    w->cgroup = std::make_unique<sandbox::RunCgroup>(std::move(cg).value());
    in.cgroup_procs = w->cgroup->procs_files();
  }
  HERO_ASSIGN_OR_RETURN(LaunchPlan plan, PlanLaunch(sup_->config(), in));

  HERO_ASSIGN_OR_RETURN(w->ends, SpawnWithChannels(sup_->launcher(), std::move(plan)));
  undo.armed = false;
  ++stats_.started;
  sup_->TrackPid(w->ends.proc.pid);

  auto slot = std::make_unique<Slot>();
  Slot* s = slot.get();
  s->owner = this;
  s->pool = &p;
  s->born = std::chrono::steady_clock::now();
  s->w = std::move(w);
  uv_loop_t* loop = sup_->loop();
  uv_poll_init(loop, s->pid_poll.Allocate(s), s->w->ends.proc.pidfd.get());
  s->pid_poll.Initialized();
  uv_poll_start(s->pid_poll.get(), UV_READABLE, &WarmPool::OnPidfd);
  uv_poll_init(loop, s->span_poll.Allocate(s), s->w->ends.span.get());
  s->span_poll.Initialized();
  uv_poll_start(s->span_poll.get(), UV_READABLE, &WarmPool::OnSpanReadable);
  p.slots.push_back(std::move(slot));
  return Status::Ok();
}

void WarmPool::OnSpanReadable(uv_poll_t* h, int status, int) {
  Slot* s = static_cast<Slot*>(h->data);
  if (!s) return;
  WarmWorker& w = *s->w;
  char buf[512];
  for (;;) {
    ssize_t n = ::read(w.ends.span.get(), buf, sizeof buf);
    if (n > 0) {
      w.pending.append(buf, static_cast<size_t>(n));
      if (w.pending.size() > kMaxPending) break;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN && status == 0) {
      if (w.pending.find('\n') == std::string::npos) return;  // hello not complete yet
      s->ready = true;
      s->ready_at = std::chrono::steady_clock::now();
      s->span_poll.Close();
      s->pool->failures = 0;
      s->owner->Refill(*s->pool);
      return;
    }
    break;  // EOF or error: the worker is exiting; OnPidfd counts and replaces it
  }
  s->span_poll.Close();
  if (w.pending.size() > kMaxPending) {
    // Not an SDK hello: never hand this worker out.
    ++s->owner->stats_.failed;
    s->owner->Kill(*s);
  }
}

void WarmPool::OnPidfd(uv_poll_t* h, int, int) {
  Slot* s = static_cast<Slot*>(h->data);
  if (!s) return;
  int st = 0;
  if (::waitpid(s->w->ends.proc.pid, &st, WNOHANG) == 0) return;  // spurious
  s->owner->OnExited(s);
}

void WarmPool::OnExited(Slot* s) {
  sup_->UntrackPid(s->w->ends.proc.pid);
  s->w->ends.proc.pid = -1;
  if (!s->killing) {
    if (s->ready) {
      ++stats_.died_idle;
    } else {
      NoteFailure(*s->pool);
      // What it printed says why (e.g. the SDK failed to import).
      char buf[1024];
      ssize_t n = ::read(s->w->ends.err.get(), buf, sizeof buf - 1);
      std::string why = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "no output";
      HERO_LOG(kWarn) << "warm pool (" << ProfileName(s->pool->key.profile)
                      << "): worker exited before it was ready: " << why;
    }
  }
  Pool& p = *s->pool;
  Discard(p, s);
  sup_->ReapOrphans();  // zombies that were hidden behind this one
  Refill(p);
}

void WarmPool::Kill(Slot& s) {
  if (s.killing) return;
  s.killing = true;
  WarmWorker& w = *s.w;
  if (w.ends.proc.pid > 0) {
    // The launcher called setsid(): its process group is its pid.
    ::kill(-w.ends.proc.pid, SIGKILL);
    ::kill(w.ends.proc.pid, SIGKILL);
  }
  if (w.cgroup) (void)w.cgroup->KillAll(std::chrono::milliseconds(0));
  if (w.has_uid) {
    sup_->SpawnAndReap(PlanKillSweep(sup_->config(), w.lease.uid, SIGKILL),
                       UniqueFd(::fcntl(w.lease.lock.get(), F_DUPFD_CLOEXEC, 0)));
  }
}

void WarmPool::Discard(Pool& p, Slot* s) {
  for (auto it = p.slots.begin(); it != p.slots.end(); ++it) {
    if (it->get() != s) continue;
    std::unique_ptr<Slot> owned = std::move(*it);
    p.slots.erase(it);
    owned->pid_poll.Close();
    owned->span_poll.Close();
    Kill(*owned);  // the rest of its processes (a sweep even after the main pid is gone)
    Cleanup(*owned->w);
    return;
  }
}

void WarmPool::Cleanup(WarmWorker& w) {
  if (w.cgroup) {
    (void)w.cgroup->KillAll(std::chrono::milliseconds(0));
    w.cgroup.reset();  // rmdir; a group still busy is logged and left for the next cleanup
  }
  if (!w.workdir.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(w.workdir, ec);  // empty but for .hero/ and tmp/
    w.workdir.clear();
  }
  if (w.has_uid) {
    sup_->ReleaseUid(w.lease.uid);  // the sweep keeps its own dup of the lock until it exits
    w.lease.lock.Reset();
    w.has_uid = false;
  }
}

void WarmPool::OnTick(uv_timer_t* t) {
  auto* pool = static_cast<WarmPool*>(t->data);
  if (!pool || pool->shut_down_) return;
  auto now = std::chrono::steady_clock::now();
  for (auto& [key, p] : pool->pools_) {
    for (auto& s : p->slots) {
      if (s->killing) continue;
      if (s->ready && now - s->ready_at >= pool->opts_.idle_timeout) {
        ++pool->stats_.recycled;
        pool->Kill(*s);
      } else if (!s->ready && now - s->born >= pool->opts_.ready_timeout) {
        ++pool->stats_.failed;
        pool->Kill(*s);
      }
    }
    pool->Refill(*p);
  }
}

void WarmPool::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  tick_.Close();
  for (auto& [key, p] : pools_) {
    while (!p->slots.empty()) {
      Slot* s = p->slots.front().get();
      s->pid_poll.Close();
      s->span_poll.Close();
      Kill(*s);
      if (s->w->ends.proc.pid > 0) {
        // SIGKILLed: the main process (launcher, python or bwrap) exits at once.
        int st = 0;
        while (::waitpid(s->w->ends.proc.pid, &st, 0) < 0 && errno == EINTR) {
        }
        sup_->UntrackPid(s->w->ends.proc.pid);
        s->w->ends.proc.pid = -1;
      }
      if (s->w->cgroup) (void)s->w->cgroup->KillAll(std::chrono::milliseconds(200));
      Cleanup(*s->w);
      p->slots.pop_front();
    }
  }
}

PoolStats WarmPool::stats() const {
  PoolStats s = stats_;
  s.pools = static_cast<int>(pools_.size());
  s.idle = 0;
  s.starting = 0;
  for (const auto& [key, p] : pools_) {
    for (const auto& slot : p->slots) {
      if (slot->killing) continue;
      if (slot->ready) {
        ++s.idle;
      } else {
        ++s.starting;
      }
    }
  }
  return s;
}

}  // namespace hero::core
