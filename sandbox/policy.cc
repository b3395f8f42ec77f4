// Pure policy -> argv/env/rlimit transformations. No syscalls here: everything is computed from
// the Policy value so tests can assert on it and the launcher stays a dumb mechanism.
#include "sandbox/policy.h"

#include <sys/resource.h>

#include <algorithm>
#include <cctype>

#include "sandbox/launcher_abi.h"

namespace hero::sandbox {
namespace {

// Inner uid/gid when the supervisor does not switch uids (it is not root): bwrap maps the
// caller's uid onto this one inside the user namespace.
constexpr uid_t kDefaultSandboxId = 1000;

bool IsAbsolute(const std::string& p) { return !p.empty() && p[0] == '/'; }
bool HasNul(const std::string& s) { return s.find('\0') != std::string::npos; }

std::string JoinPath(const std::string& dir, std::string_view name) {
  std::string out = dir;
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  if (out != "/") out += '/';
  out += name;
  return out;
}

uid_t SandboxUid(const Policy& p) { return p.uid != 0 ? p.uid : kDefaultSandboxId; }
gid_t SandboxGid(const Policy& p) { return p.gid != 0 ? p.gid : kDefaultSandboxId; }

std::string RlimitValue(uint64_t v) { return v == kUnlimited ? "inf" : std::to_string(v); }

}  // namespace

std::string_view ProfileName(Profile p) {
  switch (p) {
    case Profile::kTrusted:
      return "trusted";
    case Profile::kUntrusted:
      return "untrusted";
  }
  return "unknown";
}

Limits DefaultLimits(std::chrono::seconds wall_timeout) {
  Limits l;
  int64_t wall = wall_timeout.count();
  l.cpu_seconds = static_cast<uint64_t>(std::max<int64_t>(1, 2 * wall));
  return l;
}

Status ValidatePolicy(const Policy& p) {
  const std::pair<const char*, const std::string*> strings[] = {
      {"workdir", &p.workdir},         {"python_path", &p.python_path},
      {"bwrap_path", &p.bwrap_path},   {"runtime_dir", &p.runtime_dir},
      {"source_path", &p.source_path}, {"input_path", &p.input_path},
      {"flow_name", &p.flow_name},     {"run_id", &p.run_id},
  };
  for (const auto& [name, value] : strings) {
    if (HasNul(*value)) return InvalidArgument(std::string("policy.") + name + " contains NUL");
  }
  for (const auto& a : p.python_args) {
    if (HasNul(a)) return InvalidArgument("policy.python_args contains NUL");
  }
  if (p.pass_env.size() > 16) return InvalidArgument("policy.pass_env: at most 16 names");
  for (const auto& n : p.pass_env) {
    bool ok = !n.empty() && !(n[0] >= '0' && n[0] <= '9');
    for (char c : n) ok = ok && (isalnum(static_cast<unsigned char>(c)) || c == '_');
    if (!ok) return InvalidArgument("policy.pass_env: '" + n + "' is not a variable name");
  }
  if (p.cgroup_procs.size() > 8) return InvalidArgument("policy.cgroup_procs: at most 8 files");
  for (const auto& c : p.cgroup_procs) {
    if (HasNul(c) || !IsAbsolute(c)) {
      return InvalidArgument("policy.cgroup_procs entries must be absolute paths");
    }
  }
  if (!IsAbsolute(p.python_path)) return InvalidArgument("policy.python_path must be absolute");
  if (!IsAbsolute(p.runtime_dir)) return InvalidArgument("policy.runtime_dir must be absolute");
  if (!p.source_path.empty() && !IsAbsolute(p.source_path)) {
    return InvalidArgument("policy.source_path must be absolute");
  }
  if (!p.input_path.empty() && !IsAbsolute(p.input_path)) {
    return InvalidArgument("policy.input_path must be absolute");
  }
  if (p.source_path.empty() && p.python_args.empty()) {
    return InvalidArgument("policy needs source_path (or explicit python_args)");
  }
  if ((p.uid == 0) != (p.gid == 0)) {
    return InvalidArgument("policy.uid and policy.gid must both be set or both be 0");
  }
  if (p.limits.address_space_bytes == 0 || p.limits.cpu_seconds == 0 || p.limits.open_files < 16 ||
      p.limits.processes == 0 || p.limits.file_size_bytes == 0) {
    return InvalidArgument("policy.limits: AS, CPU, NPROC, FSIZE must be > 0 and NOFILE >= 16");
  }
  switch (p.profile) {
    case Profile::kTrusted:
      if (!IsAbsolute(p.workdir)) return InvalidArgument("policy.workdir must be absolute");
      break;
    case Profile::kUntrusted:
      if (!IsAbsolute(p.bwrap_path)) return InvalidArgument("policy.bwrap_path must be absolute");
      // Only /usr is visible inside the sandbox.
      if (p.python_path.rfind("/usr/", 0) != 0) {
        return InvalidArgument("untrusted profile needs an interpreter under /usr/, got " +
                               p.python_path);
      }
      if (p.work_size_bytes == 0 || p.tmp_size_bytes == 0 || p.shm_size_bytes == 0) {
        return InvalidArgument("policy: tmpfs sizes must be > 0");
      }
      break;
  }
  return Status::Ok();
}

std::vector<std::string> BuildChildEnv(const Policy& p) {
  const bool untrusted = p.profile == Profile::kUntrusted;
  std::vector<std::string> env;
  env.push_back("PATH=/usr/bin:/bin");
  env.push_back("HOME=" + (untrusted ? std::string(abi::kSandboxWork) : p.workdir));
  env.push_back("LANG=C.UTF-8");
  env.push_back("PYTHONPATH=" +
                (untrusted ? std::string(abi::kSandboxSdkDir) : JoinPath(p.runtime_dir, "py")));
  env.push_back("PYTHONDONTWRITEBYTECODE=1");
  // glibc reserves 64 MiB of address space per thread arena: without this, RLIMIT_AS allows
  // only a handful of threads.
  env.push_back("MALLOC_ARENA_MAX=2");
  env.push_back("TMPDIR=" + (untrusted ? std::string(abi::kSandboxTmp)
                                       : JoinPath(p.workdir, abi::kTrustedTmpName)));
  env.push_back("HERO_FLOW_SPAN_FD=" + std::to_string(abi::kSpanFd));
  if (!p.run_id.empty()) env.push_back("HERO_FLOW_RUN_ID=" + p.run_id);
  if (!p.flow_name.empty()) env.push_back("HERO_FLOW_NAME=" + p.flow_name);
  if (!p.traceparent.empty()) env.push_back("TRACEPARENT=" + p.traceparent);
  if (!p.tracestate.empty()) env.push_back("TRACESTATE=" + p.tracestate);
  if (!p.span_seed.empty()) env.push_back("HERO_FLOW_SPAN_SEED=" + p.span_seed);
  return env;
}

std::vector<RlimitSetting> BuildRlimits(const Policy& p) {
  const Limits& l = p.limits;
  uint64_t cpu_hard = l.cpu_seconds == kUnlimited ? kUnlimited : l.cpu_seconds + 2;
  return {
      {RLIMIT_AS, "AS", l.address_space_bytes, l.address_space_bytes},
      {RLIMIT_CPU, "CPU", l.cpu_seconds, cpu_hard},
      {RLIMIT_NOFILE, "NOFILE", l.open_files, l.open_files},
      {RLIMIT_NPROC, "NPROC", l.processes, l.processes},
      {RLIMIT_FSIZE, "FSIZE", l.file_size_bytes, l.file_size_bytes},
      {RLIMIT_CORE, "CORE", l.core_bytes, l.core_bytes},
  };
}

std::string FlowSourcePath(const Policy& p) {
  if (p.profile == Profile::kUntrusted) return abi::kSandboxFlow;
  return JoinPath(JoinPath(p.workdir, abi::kStageDirName), abi::kStageFlowName);
}

std::string FlowInputPath(const Policy& p) {
  if (p.profile == Profile::kUntrusted) return abi::kSandboxInput;
  return JoinPath(JoinPath(p.workdir, abi::kStageDirName), abi::kStageInputName);
}

std::vector<std::string> BuildFlowCommand(const Policy& p) {
  std::vector<std::string> cmd{p.python_path};
  if (!p.python_args.empty()) {
    cmd.insert(cmd.end(), p.python_args.begin(), p.python_args.end());
    return cmd;
  }
  cmd.insert(cmd.end(), {"-s", "-m", "hero_tracing.boot", FlowSourcePath(p)});
  if (!p.input_path.empty()) {
    cmd.push_back("--input-file");
    cmd.push_back(FlowInputPath(p));
  }
  if (!p.flow_name.empty()) {
    cmd.push_back("--name");
    cmd.push_back(p.flow_name);
  }
  return cmd;
}

std::string BuildPasswd(const Policy& p) {
  std::string uid = std::to_string(SandboxUid(p));
  std::string gid = std::to_string(SandboxGid(p));
  return "root:x:0:0:root:/nonexistent:/usr/sbin/nologin\n"
         "hero:x:" +
         uid + ":" + gid + ":hero:" + abi::kSandboxWork +
         ":/usr/sbin/nologin\n"
         "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
}

std::string BuildGroup(const Policy& p) {
  return "root:x:0:\nhero:x:" + std::to_string(SandboxGid(p)) + ":\nnogroup:x:65534:\n";
}

std::vector<std::string> BuildBwrapArgv(const Policy& p) {
  std::vector<std::string> a{p.bwrap_path};
  auto add = [&a](std::initializer_list<std::string> items) {
    a.insert(a.end(), items.begin(), items.end());
  };
  // Namespaces and process hygiene.
  add({"--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
       "--unshare-cgroup-try"});
  if (!p.network) add({"--unshare-net"});
  add({"--uid", std::to_string(SandboxUid(p)), "--gid", std::to_string(SandboxGid(p))});
  add({"--hostname", "hero", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
       "--disable-userns", "--assert-userns-disabled"});
  // bwrap's environment (set by the outer launcher) is empty but for the pass_env secrets,
  // which must reach the inner launcher: --clearenv only when there are none.
  if (p.pass_env.empty()) add({"--clearenv"});
  // Filesystem: only what CPython needs (Debian 12 is merged-/usr).
  add({"--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64",
       "/lib64", "--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin"});
  add({"--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"});
  add({"--ro-bind-try", "/etc/ssl/certs", "/etc/ssl/certs"});  // never /etc/ssl/private
  add({"--ro-bind-try", "/etc/ssl/openssl.cnf", "/etc/ssl/openssl.cnf"});
  add({"--ro-bind-try", "/etc/ca-certificates.conf", "/etc/ca-certificates.conf"});
  add({"--ro-bind-try", "/etc/localtime", "/etc/localtime"});
  add({"--ro-bind-try", "/etc/alternatives", "/etc/alternatives"});
  if (p.network) {
    for (const char* f : {"/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/gai.conf",
                          "/etc/host.conf", "/etc/services", "/etc/protocols"}) {
      add({"--ro-bind-try", f, f});
    }
  }
  add({"--perms", "0444", "--ro-bind-data", std::to_string(abi::kPasswdFd), "/etc/passwd"});
  add({"--perms", "0444", "--ro-bind-data", std::to_string(abi::kGroupFd), "/etc/group"});
  add({"--proc", "/proc", "--dev", "/dev"});
  add({"--size", std::to_string(p.shm_size_bytes), "--tmpfs", "/dev/shm"});
  add({"--size", std::to_string(p.tmp_size_bytes), "--perms", "01777", "--tmpfs",
       abi::kSandboxTmp});
  add({"--size", std::to_string(p.work_size_bytes), "--perms", "0700", "--tmpfs",
       abi::kSandboxWork});
  add({"--ro-bind", p.runtime_dir, abi::kSandboxRuntimeDir});
  if (!p.source_path.empty()) {
    add({"--perms", "0444", "--ro-bind-data", std::to_string(abi::kSourceFd), abi::kSandboxFlow});
  }
  if (!p.input_path.empty()) {
    add({"--perms", "0444", "--ro-bind-data", std::to_string(abi::kInputFd), abi::kSandboxInput});
  }
  // bwrap's root and /dev are writable tmpfs without a size limit: make both read-only (the
  // size-limited tmpfs mounts above stay writable).
  add({"--remount-ro", "/dev", "--remount-ro", "/"});
  add({"--chdir", abi::kSandboxWork});
  // The inner launcher loads seccomp (with a listener) as the last step before python.
  add({"--", abi::kSandboxLauncher, "--inner", "--seccomp-fd=" + std::to_string(abi::kSeccompFd)});
  for (const auto& kv : BuildChildEnv(p)) a.push_back("--env=" + kv);
  for (const auto& n : p.pass_env) a.push_back("--pass-env=" + n);
  a.push_back("--");
  for (auto& arg : BuildFlowCommand(p)) a.push_back(std::move(arg));
  return a;
}

Result<std::vector<std::string>> BuildLauncherArgv(const Policy& p,
                                                   std::string_view launcher_path) {
  HERO_RETURN_IF_ERROR(ValidatePolicy(p));
  if (launcher_path.empty() || launcher_path[0] != '/') {
    return InvalidArgument("launcher path must be absolute");
  }
  std::vector<std::string> a{std::string(launcher_path)};
  a.push_back("--mode=" + std::string(ProfileName(p.profile)));
  if (p.uid != 0) {
    a.push_back("--uid=" + std::to_string(p.uid));
    a.push_back("--gid=" + std::to_string(p.gid));
  }
  for (const auto& r : BuildRlimits(p)) {
    a.push_back(std::string("--rlimit=") + r.name + ":" + RlimitValue(r.soft) + ":" +
                RlimitValue(r.hard));
  }
  for (const auto& c : p.cgroup_procs) a.push_back("--cgroup-procs=" + c);
  // Untrusted: the outer launcher passes them on to bwrap's environment, which bwrap hands to
  // the inner launcher (its own --pass-env list, in BuildBwrapArgv).
  for (const auto& n : p.pass_env) a.push_back("--pass-env=" + n);
  if (!p.source_path.empty()) a.push_back("--source=" + p.source_path);
  if (!p.input_path.empty()) a.push_back("--input=" + p.input_path);
  switch (p.profile) {
    case Profile::kTrusted: {
      a.push_back("--workdir=" + p.workdir);
      if (p.uid != 0) {
        // Private, size-limited /tmp, /var/tmp, /dev/shm, /run/lock (needs a root launcher).
        a.push_back("--private-tmp=" + std::to_string(p.tmp_size_bytes));
        a.push_back("--keep=" + p.workdir);
        a.push_back("--keep=" + p.runtime_dir);
      }
      a.push_back("--tmpdir=" + JoinPath(p.workdir, abi::kTrustedTmpName));
      for (const auto& kv : BuildChildEnv(p)) a.push_back("--env=" + kv);
      a.push_back("--");
      for (auto& arg : BuildFlowCommand(p)) a.push_back(std::move(arg));
      break;
    }
    case Profile::kUntrusted: {
      a.push_back("--passwd=" + BuildPasswd(p));
      a.push_back("--group=" + BuildGroup(p));
      a.push_back(std::string("--seccomp-network=") + (p.network ? "1" : "0"));
      // No --env: bwrap starts with an empty environment but for pass_env (its pid 1 keeps
      // whatever bwrap was started with, readable at /proc/1/environ: only the secrets this
      // flow was granted); the inner launcher carries the child env.
      a.push_back("--");
      for (auto& arg : BuildBwrapArgv(p)) a.push_back(std::move(arg));
      break;
    }
  }
  return a;
}

}  // namespace hero::sandbox
