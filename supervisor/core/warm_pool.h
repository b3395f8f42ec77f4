// WarmPool: per (profile, network, limits) a few pre-started sandboxed interpreters (launcher ->
// bwrap for untrusted -> `python3 -m hero_tracing.boot --warm`) that have imported the SDK and
// wait on their span socket for a `dispatch` message. Each is handed to exactly one Run and
// never reused. Loop thread only; owned by the Supervisor. Depends on core (Supervisor,
// PlanLaunch), sandbox (cgroups) and libuv; never on api/.
//
// Lifecycle of a worker: starting (spawned, uid leased, workdir and cgroup created, hello not
// yet read) -> idle (hello read: the SDK is imported and the boot blocks in read()) -> taken
// (Take() moves everything into a WarmWorker for Run::StartWarm) | dead while idle (reaped,
// cleaned, replaced; never a run) | recycled (idle longer than `idle_timeout`, killed).
#pragma once

#include <sys/types.h>
#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "sandbox/cgroup.h"
#include "supervisor/base/unique_fd.h"
#include "supervisor/core/launch_plan.h"
#include "supervisor/core/supervisor.h"
#include "supervisor/core/uv_handle.h"

namespace hero::core {

// What a worker is pre-started with; a run uses a pooled worker only if its key is equal.
// The wall-clock timeout is not part of it (the timer starts at dispatch) and neither is the
// CPU limit (the boot lowers RLIMIT_CPU at dispatch; see WarmPoolOptions::cpu_cap_seconds).
struct PoolKey {
  Profile profile = Profile::kTrusted;
  bool network = false;  // always false for trusted (the host network is shared anyway)
  int64_t memory_bytes = 0;
  int64_t file_size_bytes = 0;
  int64_t processes = 0;
  bool operator<(const PoolKey& o) const {
    return std::tie(profile, network, memory_bytes, file_size_bytes, processes) <
           std::tie(o.profile, o.network, o.memory_bytes, o.file_size_bytes, o.processes);
  }
  bool operator==(const PoolKey& o) const { return !(*this < o) && !(o < *this); }
};

// The key a run with this request and these limits needs.
PoolKey PoolKeyFor(const RunRequest& req, const RunLimits& limits);

// An idle worker taken from the pool: everything a Run needs to adopt it. The process is
// alive (checked at Take), tracked by the Supervisor (TrackPid), not watched by any handle.
struct WarmWorker {
  PoolKey key;
  SpawnedChild ends;  // process + pidfd and the parent's ends of span, stdout, stderr, notify
  bool has_uid = false;
  UidLease lease;  // held until the Run is destroyed (and its last kill sweep is done)
  std::unique_ptr<sandbox::RunCgroup> cgroup;
  std::string workdir;  // created at pre-start; the Run renames it to work_root/<run id>
  std::string pending;  // bytes read from the span socket before dispatch (the hello line)
};

struct WarmPoolOptions {
  int size = 0;  // idle workers per key; 0 = no pool (every run is a cold start)
  std::chrono::milliseconds idle_timeout{300'000};
  std::chrono::milliseconds ready_timeout{15'000};  // a starting worker without hello is killed
  // RLIMIT_CPU of a worker until dispatch. The boot then lowers it to (CPU used so far +
  // the run's cpu_seconds); a run that needs more than this starts cold.
  int64_t cpu_cap_seconds = 2 * 7 * 24 * 3600;
};

struct PoolStats {
  int size = 0;           // target idle workers per key
  int pools = 0;          // keys with a pool
  int idle = 0;           // ready workers now
  int starting = 0;       // pre-starts in flight
  int64_t hits = 0;       // runs that got a pooled worker
  int64_t misses = 0;     // runs that started cold while the pool was on
  int64_t started = 0;    // workers spawned
  int64_t died_idle = 0;  // workers that exited while idle or starting (replaced)
  int64_t recycled = 0;   // idle workers killed after idle_timeout
  int64_t failed = 0;     // pre-starts that failed (spawn error, exit before hello)
};

class WarmPool {
 public:
  WarmPool(Supervisor* sup, WarmPoolOptions opts);
  ~WarmPool();

  // Creates the pools for `keys` and starts filling them (no-op when size is 0).
  void Start(const std::vector<PoolKey>& keys);
  // An idle worker for `key` able to run with `cpu_seconds`, or nullptr (counted as a miss;
  // the key's pool is created if missing). Refills in the background either way.
  std::unique_ptr<WarmWorker> Take(const PoolKey& key, int64_t cpu_seconds);
  // While `hold()` is true (e.g. runs are waiting for a slot) no worker is pre-started: the
  // CPU belongs to the runs. Checked at every refill decision.
  void set_hold(std::function<bool()> hold) { hold_ = std::move(hold); }
  // Kills every worker (idle or starting), waits for their main processes, releases their
  // uids, cgroups and workdirs; no refill afterwards. Blocking (bounded): shutdown only.
  void Shutdown();
  PoolStats stats() const;
  bool enabled() const { return opts_.size > 0; }

 private:
  struct Pool;
  struct Slot {
    WarmPool* owner = nullptr;
    Pool* pool = nullptr;
    std::unique_ptr<WarmWorker> w;
    bool ready = false;
    bool killing = false;  // killed by us (recycle, ready timeout, shutdown)
    std::chrono::steady_clock::time_point born, ready_at;
    UvHandle<uv_poll_t> pid_poll, span_poll;
  };
  struct Pool {
    PoolKey key;
    std::list<std::unique_ptr<Slot>> slots;
    int failures = 0;  // consecutive failed pre-starts (back-off)
    std::chrono::steady_clock::time_point retry_at;
  };

  Pool& PoolFor(const PoolKey& key);
  void Refill(Pool& p);
  void NoteFailure(Pool& p);
  Status StartOne(Pool& p);
  void Kill(Slot& s);
  void OnExited(Slot* s);
  void Discard(Pool& p, Slot* s);
  void Cleanup(WarmWorker& w);
  static void OnPidfd(uv_poll_t* h, int status, int events);
  static void OnSpanReadable(uv_poll_t* h, int status, int events);
  static void OnTick(uv_timer_t* t);

  Supervisor* sup_;
  WarmPoolOptions opts_;
  std::map<PoolKey, std::unique_ptr<Pool>> pools_;
  std::function<bool()> hold_;
  UvHandle<uv_timer_t> tick_;
  bool shut_down_ = false;
  int64_t seq_ = 0;
  PoolStats stats_;
};

}  // namespace hero::core
