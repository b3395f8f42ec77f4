// PlanLaunch: the only place where a run's request becomes a sandbox::Policy.
#include "supervisor/core/launch_plan.h"

#include <fcntl.h>

#include "sandbox/policy.h"
#include "sandbox/run_killer.h"

namespace hero::core {

Result<LaunchPlan> PlanLaunch(const SupervisorConfig& config, const LaunchInput& in) {
  sandbox::Policy p;
  p.profile =
      in.profile == Profile::kUntrusted ? sandbox::Profile::kUntrusted : sandbox::Profile::kTrusted;
  p.uid = in.uid;
  p.gid = in.gid;
  p.limits =
      sandbox::DefaultLimits(std::chrono::duration_cast<std::chrono::seconds>(in.limits.timeout));
  p.limits.address_space_bytes = static_cast<uint64_t>(in.limits.memory_bytes);
  p.limits.file_size_bytes = static_cast<uint64_t>(in.limits.file_size_bytes);
  p.limits.processes = static_cast<uint64_t>(in.limits.processes);
  p.limits.cpu_seconds = static_cast<uint64_t>(in.limits.cpu_seconds);
  p.workdir = in.workdir;
  p.work_size_bytes = static_cast<uint64_t>(config.untrusted_work_bytes);
  p.tmp_size_bytes = static_cast<uint64_t>(config.untrusted_tmp_bytes);
  p.network = in.network;
  p.python_path = config.python;
  p.bwrap_path = config.bwrap;
  p.runtime_dir = config.runtime_dir;
  p.source_path = in.source_path;
  p.input_path = in.input_path;
  p.flow_name = in.entry;
  p.run_id = in.warm ? std::string() : std::to_string(in.id.value);
  p.cgroup_procs = in.cgroup_procs;
  for (const std::string& kv : in.secret_env) p.pass_env.push_back(kv.substr(0, kv.find('=')));
  if (!in.warm) {  // a warm worker gets its run's context with the dispatch message
    p.traceparent = in.traceparent;
    p.tracestate = in.tracestate;
    p.span_seed = in.span_seed;
  }
  // The boot command, with the author's file name for spans and tracebacks (the source is
  // staged under another name).
  if (in.warm) {
    // Source, input, run id and entry arrive with the dispatch message (SPAN_FORMAT.md).
    p.source_path.clear();
    p.input_path.clear();
    p.flow_name.clear();
    p.python_args = {"-s", "-m", "hero_tracing.boot", "--warm"};
  } else {
    p.python_args = {"-s",
                     "-m",
                     "hero_tracing.boot",
                     sandbox::FlowSourcePath(p),
                     "--input-file",
                     sandbox::FlowInputPath(p)};
    if (!in.entry.empty()) {
      p.python_args.push_back("--name");
      p.python_args.push_back(in.entry);
    }
    if (!in.source_name.empty()) {
      p.python_args.push_back("--source-name");
      p.python_args.push_back(in.source_name);
    }
  }

  std::string launcher = config.runtime_dir + "/bin/hero_launcher";
  HERO_ASSIGN_OR_RETURN(std::vector<std::string> argv, sandbox::BuildLauncherArgv(p, launcher));
  LaunchPlan plan;
  plan.spec.path = launcher;
  plan.spec.argv = std::move(argv);
  // The launcher gets the child's environment on its argv, except secret values: those come
  // in its own environment (argv is readable by every user in /proc/<pid>/cmdline).
  plan.spec.env = in.secret_env;
  plan.bwrap_main = p.profile == sandbox::Profile::kUntrusted;
  plan.wants_notify = plan.bwrap_main;
  return plan;
}

Result<SpawnedChild> SpawnWithChannels(ProcessLauncher* launcher, LaunchPlan plan) {
  HERO_ASSIGN_OR_RETURN(FdPair span, MakeSocketPair());
  HERO_ASSIGN_OR_RETURN(FdPair out, MakePipe());
  HERO_ASSIGN_OR_RETURN(FdPair err, MakePipe());
  HERO_ASSIGN_OR_RETURN(UniqueFd devnull, OpenFile("/dev/null", O_RDWR));
  FdPair notify;
  if (plan.wants_notify) {
    HERO_ASSIGN_OR_RETURN(notify, MakeSocketPair());
  }
  HERO_RETURN_IF_ERROR(SetNonBlocking(span.first.get(), true));
  plan.spec.fd_map = {
      {devnull.get(), 0}, {out.second.get(), 1}, {err.second.get(), 2}, {span.second.get(), 3}};
  if (plan.wants_notify) plan.spec.fd_map.push_back({notify.second.get(), 4});
  HERO_ASSIGN_OR_RETURN(SpawnedProcess proc, launcher->Spawn(plan.spec));
  // The child's ends close when the FdPairs go out of scope, right after the spawn.
  SpawnedChild c;
  c.proc = std::move(proc);
  c.span = std::move(span.first);
  c.out = std::move(out.first);
  c.err = std::move(err.first);
  c.notify = std::move(notify.first);
  return c;
}

SpawnSpec PlanKillSweep(const SupervisorConfig& config, uid_t uid, int sig) {
  SpawnSpec s;
  s.path = config.runtime_dir + "/bin/hero_launcher";
  s.argv = sandbox::BuildKillArgv(s.path, uid, sig);
  return s;
}

}  // namespace hero::core
