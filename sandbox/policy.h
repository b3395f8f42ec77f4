// Sandbox policy as a plain value, and pure functions policy -> launcher argv, child environment,
// rlimits and bubblewrap argv. No side effects, no syscalls; any thread. Depends on base only.
//
// How a run is started (the supervisor is multithreaded: nothing runs between fork and exec):
//   posix_spawn(hero_launcher, BuildLauncherArgv(policy, launcher), envp = {} ) with
//   fd 0 = /dev/null, 1/2 = capture pipes, 3 = span socket, 4 = notify socket (untrusted only).
//   The launcher pid is the run's main process; its exit status is the run's exit status.
//   Spawn from a long-lived thread (the loop thread): PR_SET_PDEATHSIG fires when the spawning
//   *thread* exits.
//
// Launcher argv (one argv element per option, "--name=value"):
//   hero_launcher --mode=trusted|untrusted
//     [--uid=N --gid=N]          switch to this uid/gid (N > 0). Without them the launcher keeps
//                                its uid, and refuses to run at all if that is root.
//     --rlimit=NAME:SOFT:HARD    repeated; NAME in AS CPU NOFILE NPROC FSIZE CORE; "inf" allowed
//     [--workdir=PATH]           trusted: chdir here (as the run uid), stage files under .hero/
//     [--source=PATH]            flow source, opened as root before dropping privileges
//     [--input=PATH]             input JSON, opened as root before dropping privileges
//     [--tmpdir=PATH]            trusted: created 0700 as the run uid
//     [--private-tmp=BYTES]      trusted, root only: new mount namespace with size-limited
//                                tmpfs over /tmp /var/tmp /dev/shm /run/lock (host's stay clean)
//     [--keep=PATH]              repeated: directories under those the run still needs
//                                (workdir, runtime dir), bound back in
//     [--cgroup-procs=PATH]      repeated (<= 8): cgroup.procs files the launcher writes "0"
//                                into, as root, first thing (RunCgroup::procs_files())
//     [--passwd=TEXT --group=TEXT] untrusted: memfds at abi::kPasswdFd / abi::kGroupFd
//     [--seccomp-network=0|1]    untrusted: BPF (BuildSeccompProgram) in a memfd at abi::kSeccompFd
//     --env=K=V                  repeated: the exact environment of the exec'd program
//     [--pass-env=NAME]          repeated: also NAME=value from the launcher's own environment
//                                (flow secrets: their values never appear on an argv, which
//                                every user can read in /proc; posix_spawn's envp carries them)
//     -- PROGRAM ARGS...         execve(PROGRAM, [PROGRAM, ARGS...], env)
//   trusted:   source/input are copied to <workdir>/.hero/{flow.py,input.json}; PROGRAM = python.
//   untrusted: source/input are placed at fds 5/6; PROGRAM = bwrap (started with an EMPTY
//              environment; SIGTERM ignored so a polite SIGTERM reaches the flow, not bwrap);
//              inside, bwrap runs
//   /hero/rt/bin/hero_launcher --inner --seccomp-fd=7 --env=K=V... -- python ...
//              which loads the filter with a listener, sends the listener over fd 4, closes
//              fds >= 4 and execs python.
//   hero_launcher --kill-uid=UID --signal=N   (see run_killer.h)
// Exit codes: 126 = launcher failure (one "hero_launcher: ..." line on stderr); otherwise the
// status of the exec'd program. Untrusted: bwrap reports a flow killed by signal N as exit
// code 128+N (bwrap's own convention).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "supervisor/base/result.h"
#include "supervisor/base/status.h"

namespace hero::sandbox {

enum class Profile { kTrusted, kUntrusted };

std::string_view ProfileName(Profile p);  // "trusted" / "untrusted"

inline constexpr uint64_t kMiB = 1024ull * 1024;
inline constexpr uint64_t kGiB = 1024 * kMiB;
inline constexpr uint64_t kUnlimited = ~0ull;  // RLIM_INFINITY

struct Limits {
  uint64_t address_space_bytes = 2 * kGiB;  // RLIMIT_AS
  uint64_t cpu_seconds = 120;               // RLIMIT_CPU soft; hard = soft + 2 (SIGXCPU, then KILL)
  uint64_t open_files = 256;                // RLIMIT_NOFILE
  uint64_t processes = 64;                  // RLIMIT_NPROC: tasks (threads too) of the run uid
  uint64_t file_size_bytes = 64 * kMiB;     // RLIMIT_FSIZE
  uint64_t core_bytes = 0;                  // RLIMIT_CORE
};

// SPEC defaults; CPU = 2 x the wall-clock timeout (at least 1 s).
Limits DefaultLimits(std::chrono::seconds wall_timeout);

struct Policy {
  Profile profile = Profile::kUntrusted;
  // Run identity. 0 = do not switch; only valid when the supervisor is not root (the launcher
  // refuses to exec a flow as uid 0). Core supplies 200000 + slot when running as root.
  uid_t uid = 0;
  gid_t gid = 0;
  Limits limits;
  // Host workdir (absolute), owned by / writable for the run uid, created fresh by core.
  // trusted: cwd, HOME, .hero/ staging and TMPDIR=<workdir>/tmp. untrusted: not used (the
  // sandbox gets a size-limited tmpfs at /work instead; results travel over the span socket).
  std::string workdir;
  uint64_t work_size_bytes = 64 * kMiB;  // untrusted /work tmpfs
  // untrusted /tmp tmpfs; trusted (uid switching): each private tmpfs over /tmp, /var/tmp,
  // /dev/shm, /run/lock.
  uint64_t tmp_size_bytes = 64 * kMiB;
  uint64_t shm_size_bytes = 16 * kMiB;  // untrusted /dev/shm tmpfs (POSIX semaphores)
  // untrusted: false -> --unshare-net and AF_UNIX-only sockets. trusted: ignored, the host
  // network is shared (SPEC 5; E09/E11 are inherent Tier-0 gaps).
  bool network = false;
  std::string python_path = "/usr/bin/python3";  // untrusted: must live under /usr/
  std::string bwrap_path = "/usr/bin/bwrap";
  // Readable by every run uid: py/ (the SDK) and bin/hero_launcher (a real file, not a symlink
  // pointing outside, since it is bound into the sandbox at /hero/rt).
  std::string runtime_dir;
  std::string source_path;  // flow source on the host; may sit in a root-only directory
  std::string input_path;   // input JSON on the host; same
  std::string flow_name;    // HERO_FLOW_NAME and --name for the boot module (if non-empty)
  std::string run_id;       // HERO_FLOW_RUN_ID
  // W3C trace context of the run's root span (TRACEPARENT, TRACESTATE) and the run's span-id
  // key (HERO_FLOW_SPAN_SEED, 16 hex digits; see supervisor/otel/trace_context.h).
  std::string traceparent, tracestate, span_seed;
  // If non-empty, replaces the boot-module arguments after the interpreter (tests, tooling):
  // the command becomes [python_path, python_args...].
  std::vector<std::string> python_args;
  // cgroup.procs files of the run's cgroup(s) (RunCgroup::procs_files(), sandbox/cgroup.h):
  // the outer launcher joins them as root before anything else, so bwrap, the flow and its
  // daemons inherit the group. Empty = no cgroup (rlimits only). Needs a root launcher.
  std::vector<std::string> cgroup_procs;
  // Names of variables (flow secrets) the launchers copy from their own environment into the
  // flow's, after BuildChildEnv's: the caller spawns the outer launcher with exactly these
  // NAME=value pairs as its envp; untrusted, they pass through bwrap's environment to the
  // inner launcher. At most 16, each [A-Za-z_][A-Za-z0-9_]*.
  std::vector<std::string> pass_env;
};

// Checks what the builders and the launcher rely on: absolute paths, no NUL bytes, sizes > 0,
// profile-specific requirements. InvalidArgument naming the field.
Status ValidatePolicy(const Policy& policy);

// The child's complete environment, "K=V" each, in a fixed order: PATH, HOME, LANG, PYTHONPATH,
// PYTHONDONTWRITEBYTECODE, MALLOC_ARENA_MAX, TMPDIR, HERO_FLOW_SPAN_FD, HERO_FLOW_RUN_ID,
// HERO_FLOW_NAME, TRACEPARENT, TRACESTATE, HERO_FLOW_SPAN_SEED (the last five only when
// non-empty). Nothing else, ever (the launcher adds the policy's pass_env variables from its
// own environment).
std::vector<std::string> BuildChildEnv(const Policy& policy);

struct RlimitSetting {
  int resource;      // RLIMIT_*
  const char* name;  // "AS", "CPU", ... (the launcher's --rlimit names)
  uint64_t soft;
  uint64_t hard;
};
std::vector<RlimitSetting> BuildRlimits(const Policy& policy);

// Where the flow sees its source and input: trusted <workdir>/.hero/{flow.py,input.json},
// untrusted /hero/flow.py, /hero/input.json.
std::string FlowSourcePath(const Policy& policy);
std::string FlowInputPath(const Policy& policy);

// The interpreter command: [python, "-s", "-m", "hero_tracing.boot", <flow>, "--input-file",
// <input>, "--name", <flow_name>] (input/name only when given), or [python, python_args...].
// Not -I: it would drop PYTHONPATH. -s: no user site-packages.
std::vector<std::string> BuildFlowCommand(const Policy& policy);

// /etc/passwd and /etc/group for the sandbox: root, the run user "hero" and nobody.
std::string BuildPasswd(const Policy& policy);
std::string BuildGroup(const Policy& policy);

// The complete bwrap argv (argv[0] = policy.bwrap_path) for an untrusted run, ending with the
// inner launcher and BuildFlowCommand(policy). Mounts: /usr ro, /lib /lib64 /bin /sbin as
// symlinks into usr/ (merged-/usr host), a few /etc files, synthesized passwd/group, own /proc
// and /dev, size-limited tmpfs /tmp /work /dev/shm, runtime dir ro at /hero/rt, flow and input
// at /hero/, then / and /dev remounted read-only. Nothing from /home, /root, /run, /var.
std::vector<std::string> BuildBwrapArgv(const Policy& policy);

// The complete launcher argv (argv[0] = launcher_path) described at the top of this file.
// Validates the policy first.
Result<std::vector<std::string>> BuildLauncherArgv(const Policy& policy,
                                                   std::string_view launcher_path);

}  // namespace hero::sandbox
