// PlanLaunch: turns a run into a sandbox policy (sandbox/) and the launcher's SpawnSpec.
// Pure apart from reading the config. Loop thread.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "supervisor/base/ids.h"
#include "supervisor/base/result.h"
#include "supervisor/core/outcome.h"
#include "supervisor/core/process_launcher.h"
#include "supervisor/core/supervisor.h"

namespace hero::core {

struct LaunchInput {
  RunId id;
  Profile profile = Profile::kTrusted;
  uid_t uid = 0;  // 0: do not switch (supervisor not root)
  gid_t gid = 0;
  std::string workdir, source_path, input_path, flow_name, entry;
  std::string source_name;                // the author's file name, shown in spans and tracebacks
  std::vector<std::string> cgroup_procs;  // the launcher joins these before dropping privileges
  RunLimits limits;
  bool network = false;
  std::string traceparent, tracestate, span_seed;  // the child's trace context (policy.h)
  // A warm-pool worker (warm_pool.h): no run id, source or input yet; the boot waits for the
  // `dispatch` message on its span socket (`hero_tracing.boot --warm`).
  bool warm = false;
  // "NAME=value" for each secret the run was granted: the launcher's envp, names on its argv.
  std::vector<std::string> secret_env;
};

struct LaunchPlan {
  SpawnSpec spec;             // fd_map filled in by the caller
  bool bwrap_main = false;    // the launcher execs bwrap
  bool wants_notify = false;  // give fd 4: the inner launcher sends the seccomp listener
};

Result<LaunchPlan> PlanLaunch(const SupervisorConfig& config, const LaunchInput& in);

// A spawned child and the parent's ends of its channels.
struct SpawnedChild {
  SpawnedProcess proc;
  UniqueFd span;    // span socketpair (child fd 3)
  UniqueFd out;     // stdout pipe, read end (child fd 1)
  UniqueFd err;     // stderr pipe, read end (child fd 2)
  UniqueFd notify;  // seccomp-listener socketpair (child fd 4), if plan.wants_notify
};
// Creates the channels (span socket non-blocking on our side), spawns plan.spec with /dev/null
// at fd 0 and the child's ends at 1-4, then closes the child's ends (else EOF never comes).
Result<SpawnedChild> SpawnWithChannels(ProcessLauncher* launcher, LaunchPlan plan);
// argv for the kill sweep: every process of `uid` gets `sig` (never the supervisor).
SpawnSpec PlanKillSweep(const SupervisorConfig& config, uid_t uid, int sig);

}  // namespace hero::core
