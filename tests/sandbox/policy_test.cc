// Unit tests for the pure policy builders: argv, env, rlimits, bwrap argv.
#include "sandbox/policy.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "sandbox/launcher_abi.h"
#include "sandbox/run_killer.h"

namespace hero::sandbox {
namespace {

Policy TrustedPolicy() {
  Policy p;
  p.profile = Profile::kTrusted;
  p.uid = 200007;
  p.gid = 200007;
  p.workdir = "/data/runs/7/work";
  p.runtime_dir = "/data/runtime";
  p.source_path = "/root/.local/share/hero/runs/7/flow.py";
  p.input_path = "/root/.local/share/hero/runs/7/input.json";
  p.flow_name = "summarize";
  p.run_id = "7";
  return p;
}

Policy UntrustedPolicy() {
  Policy p = TrustedPolicy();
  p.profile = Profile::kUntrusted;
  return p;
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// True if `seq` appears contiguously in `v`.
bool ContainsSeq(const std::vector<std::string>& v, const std::vector<std::string>& seq) {
  return std::search(v.begin(), v.end(), seq.begin(), seq.end()) != v.end();
}

std::set<std::string> Keys(const std::vector<std::string>& env) {
  std::set<std::string> keys;
  for (const auto& kv : env) keys.insert(kv.substr(0, kv.find('=')));
  return keys;
}

TEST(PolicyTest, TrustedEnvIsExactlyTheAllowlist) {
  auto env = BuildChildEnv(TrustedPolicy());
  EXPECT_EQ(env, (std::vector<std::string>{"PATH=/usr/bin:/bin", "HOME=/data/runs/7/work",
                                           "LANG=C.UTF-8", "PYTHONPATH=/data/runtime/py",
                                           "PYTHONDONTWRITEBYTECODE=1", "MALLOC_ARENA_MAX=2",
                                           "TMPDIR=/data/runs/7/work/tmp", "HERO_FLOW_SPAN_FD=3",
                                           "HERO_FLOW_RUN_ID=7", "HERO_FLOW_NAME=summarize"}));
}

TEST(PolicyTest, UntrustedEnvUsesSandboxPaths) {
  auto env = BuildChildEnv(UntrustedPolicy());
  EXPECT_TRUE(Contains(env, "HOME=/work"));
  EXPECT_TRUE(Contains(env, "PYTHONPATH=/hero/rt/py"));
  EXPECT_TRUE(Contains(env, "TMPDIR=/tmp"));
  EXPECT_EQ(Keys(env), Keys(BuildChildEnv(TrustedPolicy())));
}

TEST(PolicyTest, EnvNeverCarriesSupervisorVariables) {
  setenv("SUPERVISOR_CANARY", "sbx-canary-env-unit", 1);
  for (const Policy& p : {TrustedPolicy(), UntrustedPolicy()}) {
    for (const auto& kv : BuildChildEnv(p)) {
      EXPECT_EQ(kv.find("SUPERVISOR"), std::string::npos) << kv;
      EXPECT_EQ(kv.find("sbx-canary"), std::string::npos) << kv;
    }
    auto argv = BuildLauncherArgv(p, "/opt/hero/hero_launcher");
    ASSERT_TRUE(argv.ok());
    for (const auto& a : *argv) EXPECT_EQ(a.find("sbx-canary"), std::string::npos) << a;
  }
}

TEST(PolicyTest, EmptyRunIdAndNameAreOmitted) {
  Policy p = TrustedPolicy();
  p.run_id.clear();
  p.flow_name.clear();
  auto keys = Keys(BuildChildEnv(p));
  EXPECT_EQ(keys.count("HERO_FLOW_RUN_ID"), 0u);
  EXPECT_EQ(keys.count("HERO_FLOW_NAME"), 0u);
}

TEST(PolicyTest, DefaultLimitsFollowSpec) {
  Limits l = DefaultLimits(std::chrono::seconds(30));
  EXPECT_EQ(l.address_space_bytes, 2 * kGiB);
  EXPECT_EQ(l.cpu_seconds, 60u);
  EXPECT_EQ(l.open_files, 256u);
  EXPECT_EQ(l.processes, 64u);
  EXPECT_EQ(l.file_size_bytes, 64 * kMiB);
  EXPECT_EQ(l.core_bytes, 0u);
  EXPECT_EQ(DefaultLimits(std::chrono::seconds(0)).cpu_seconds, 1u);
}

TEST(PolicyTest, RlimitTableCoversEveryLimit) {
  Policy p = TrustedPolicy();
  p.limits = DefaultLimits(std::chrono::seconds(60));
  auto rl = BuildRlimits(p);
  std::set<int> resources;
  for (const auto& r : rl) {
    resources.insert(r.resource);
    if (r.resource == RLIMIT_CPU) {
      EXPECT_EQ(r.soft, 120u);
      EXPECT_EQ(r.hard, 122u);
    } else {
      EXPECT_EQ(r.soft, r.hard) << r.name;
    }
  }
  EXPECT_EQ(resources, (std::set<int>{RLIMIT_AS, RLIMIT_CPU, RLIMIT_NOFILE, RLIMIT_NPROC,
                                      RLIMIT_FSIZE, RLIMIT_CORE}));
}

TEST(PolicyTest, TrustedLauncherArgvStagesAndExecsPython) {
  auto argv = BuildLauncherArgv(TrustedPolicy(), "/opt/hero/hero_launcher");
  ASSERT_TRUE(argv.ok()) << argv.status().ToString();
  const auto& a = *argv;
  EXPECT_EQ(a[0], "/opt/hero/hero_launcher");
  EXPECT_TRUE(Contains(a, "--mode=trusted"));
  EXPECT_TRUE(Contains(a, "--uid=200007"));
  EXPECT_TRUE(Contains(a, "--gid=200007"));
  EXPECT_TRUE(Contains(a, "--rlimit=AS:2147483648:2147483648"));
  EXPECT_TRUE(Contains(a, "--rlimit=CORE:0:0"));
  EXPECT_TRUE(Contains(a, "--source=/root/.local/share/hero/runs/7/flow.py"));
  EXPECT_TRUE(Contains(a, "--workdir=/data/runs/7/work"));
  EXPECT_TRUE(Contains(a, "--private-tmp=67108864"));
  EXPECT_TRUE(Contains(a, "--keep=/data/runs/7/work"));
  EXPECT_TRUE(Contains(a, "--keep=/data/runtime"));
  EXPECT_TRUE(Contains(a, "--env=HOME=/data/runs/7/work"));
  EXPECT_FALSE(Contains(a, "/usr/bin/bwrap"));
  EXPECT_TRUE(ContainsSeq(a, {"--", "/usr/bin/python3", "-s", "-m", "hero_tracing.boot",
                              "/data/runs/7/work/.hero/flow.py", "--input-file",
                              "/data/runs/7/work/.hero/input.json", "--name", "summarize"}));
  EXPECT_FALSE(Contains(a, "-I"));  // would drop PYTHONPATH
}

TEST(PolicyTest, NoUidSwitchOmitsUidFlags) {
  Policy p = TrustedPolicy();
  p.uid = 0;
  p.gid = 0;
  auto argv = BuildLauncherArgv(p, "/opt/hero/hero_launcher");
  ASSERT_TRUE(argv.ok());
  for (const auto& a : *argv) EXPECT_NE(a.rfind("--uid=", 0), 0u) << a;
}

TEST(PolicyTest, SecretNamesNeverTheirValuesGoOnTheLauncherArgv) {
  for (Policy p : {TrustedPolicy(), UntrustedPolicy()}) {
    p.pass_env = {"API_KEY", "OTHER_TOKEN"};
    auto argv = BuildLauncherArgv(p, "/rt/bin/hero_launcher");
    ASSERT_TRUE(argv.ok()) << argv.status().ToString();
    // Outer launcher: names only (values come in its envp).
    EXPECT_TRUE(Contains(*argv, "--pass-env=API_KEY"));
    EXPECT_TRUE(Contains(*argv, "--pass-env=OTHER_TOKEN"));
    for (const auto& a : *argv) EXPECT_EQ(a.rfind("--env=API_KEY", 0), std::string::npos) << a;
    if (p.profile == Profile::kUntrusted) {
      // bwrap keeps its environment for the inner launcher, which gets the same names.
      EXPECT_FALSE(Contains(*argv, "--clearenv"));
      EXPECT_EQ(std::count(argv->begin(), argv->end(), "--pass-env=API_KEY"), 2);
    }
  }
  Policy bad = TrustedPolicy();
  bad.pass_env = {"NOT-A-NAME"};
  EXPECT_FALSE(BuildLauncherArgv(bad, "/rt/bin/hero_launcher").ok());
}

TEST(PolicyTest, UntrustedBwrapArgvHasEveryRequiredFlag) {
  auto a = BuildBwrapArgv(UntrustedPolicy());
  EXPECT_EQ(a[0], "/usr/bin/bwrap");
  for (const char* flag : {"--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
                           "--unshare-net", "--unshare-cgroup-try", "--die-with-parent",
                           "--new-session", "--disable-userns", "--clearenv"}) {
    EXPECT_TRUE(Contains(a, flag)) << flag;
  }
  EXPECT_TRUE(ContainsSeq(a, {"--cap-drop", "ALL"}));
  EXPECT_TRUE(ContainsSeq(a, {"--ro-bind", "/usr", "/usr"}));
  EXPECT_TRUE(ContainsSeq(a, {"--symlink", "usr/lib", "/lib"}));
  EXPECT_TRUE(ContainsSeq(a, {"--symlink", "usr/lib64", "/lib64"}));
  EXPECT_TRUE(ContainsSeq(a, {"--proc", "/proc"}));
  EXPECT_TRUE(ContainsSeq(a, {"--dev", "/dev"}));
  EXPECT_TRUE(ContainsSeq(a, {"--size", "67108864", "--perms", "01777", "--tmpfs", "/tmp"}));
  EXPECT_TRUE(ContainsSeq(a, {"--size", "67108864", "--perms", "0700", "--tmpfs", "/work"}));
  EXPECT_TRUE(ContainsSeq(a, {"--ro-bind", "/data/runtime", "/hero/rt"}));
  EXPECT_TRUE(ContainsSeq(a, {"--perms", "0444", "--ro-bind-data", "5", "/hero/flow.py"}));
  EXPECT_TRUE(ContainsSeq(a, {"--perms", "0444", "--ro-bind-data", "6", "/hero/input.json"}));
  EXPECT_TRUE(ContainsSeq(a, {"--ro-bind-data", "8", "/etc/passwd"}));
  EXPECT_TRUE(ContainsSeq(a, {"--remount-ro", "/"}));
  EXPECT_TRUE(ContainsSeq(a, {"--chdir", "/work"}));
  EXPECT_TRUE(ContainsSeq(a, {"--", "/hero/rt/bin/hero_launcher", "--inner", "--seccomp-fd=7"}));
  EXPECT_TRUE(ContainsSeq(a, {"--", "/usr/bin/python3", "-s", "-m", "hero_tracing.boot",
                              "/hero/flow.py", "--input-file", "/hero/input.json"}));
  // --remount-ro / comes after every mount.
  auto remount = std::find(a.begin(), a.end(), "--remount-ro");
  auto last_mount = std::find(a.rbegin(), a.rend(), "--ro-bind-data");
  EXPECT_LT(last_mount.base() - a.begin(), remount - a.begin());
}

TEST(PolicyTest, UntrustedBwrapArgvBindsNothingSecret) {
  for (const auto& s : BuildBwrapArgv(UntrustedPolicy())) {
    for (const char* bad : {"/home", "/root", "/run", "/var", "/etc/shadow", "/etc/ssl/private"}) {
      EXPECT_NE(s.rfind(bad, 0), 0u) << s;
    }
    // The source dir (root-only) is handed in as an fd, never bound.
    EXPECT_EQ(s.find("/root/.local"), std::string::npos) << s;
  }
}

TEST(PolicyTest, NetworkOnSharesTheHostNetwork) {
  Policy p = UntrustedPolicy();
  p.network = true;
  auto a = BuildBwrapArgv(p);
  EXPECT_FALSE(Contains(a, "--unshare-net"));
  EXPECT_TRUE(ContainsSeq(a, {"--ro-bind-try", "/etc/resolv.conf", "/etc/resolv.conf"}));
  auto argv = BuildLauncherArgv(p, "/opt/hero/hero_launcher");
  ASSERT_TRUE(argv.ok());
  EXPECT_TRUE(Contains(*argv, "--seccomp-network=1"));
  p.network = false;
  argv = BuildLauncherArgv(p, "/opt/hero/hero_launcher");
  ASSERT_TRUE(argv.ok());
  EXPECT_TRUE(Contains(*argv, "--seccomp-network=0"));
  EXPECT_FALSE(Contains(BuildBwrapArgv(p), "/etc/resolv.conf"));
}

TEST(PolicyTest, UntrustedLauncherArgvStartsBwrapWithEmptyEnv) {
  auto argv = BuildLauncherArgv(UntrustedPolicy(), "/opt/hero/hero_launcher");
  ASSERT_TRUE(argv.ok());
  const auto& a = *argv;
  auto dashdash = std::find(a.begin(), a.end(), "--");
  ASSERT_NE(dashdash, a.end());
  EXPECT_EQ(*(dashdash + 1), "/usr/bin/bwrap");
  for (auto it = a.begin(); it != dashdash; ++it) EXPECT_NE(it->rfind("--env=", 0), 0u) << *it;
  EXPECT_TRUE(Contains(a, "--env=HOME=/work"));  // the inner launcher's, after bwrap's "--"
  EXPECT_TRUE(Contains(a, "--mode=untrusted"));
}

TEST(PolicyTest, PasswdNamesTheRunUid) {
  Policy p = UntrustedPolicy();
  EXPECT_NE(BuildPasswd(p).find("hero:x:200007:200007:"), std::string::npos);
  EXPECT_NE(BuildGroup(p).find("hero:x:200007:"), std::string::npos);
  EXPECT_TRUE(ContainsSeq(BuildBwrapArgv(p), {"--uid", "200007", "--gid", "200007"}));
}

TEST(PolicyTest, PythonArgsReplaceTheBootCommand) {
  Policy p = UntrustedPolicy();
  p.python_args = {"-c", "print(1)"};
  auto cmd = BuildFlowCommand(p);
  EXPECT_EQ(cmd, (std::vector<std::string>{"/usr/bin/python3", "-c", "print(1)"}));
}

TEST(PolicyTest, ValidationRejectsBadPolicies) {
  Policy p = UntrustedPolicy();
  p.python_path = "/opt/python/bin/python3";
  EXPECT_EQ(ValidatePolicy(p).code(), StatusCode::kInvalidArgument);
  p = TrustedPolicy();
  p.workdir = "relative";
  EXPECT_FALSE(ValidatePolicy(p).ok());
  p = TrustedPolicy();
  p.flow_name = std::string("a\0b", 3);
  EXPECT_FALSE(ValidatePolicy(p).ok());
  p = TrustedPolicy();
  p.gid = 0;
  EXPECT_FALSE(ValidatePolicy(p).ok());
  p = TrustedPolicy();
  p.source_path.clear();
  EXPECT_FALSE(ValidatePolicy(p).ok());
  EXPECT_FALSE(BuildLauncherArgv(TrustedPolicy(), "hero_launcher").ok());
  EXPECT_TRUE(ValidatePolicy(TrustedPolicy()).ok());
  EXPECT_TRUE(ValidatePolicy(UntrustedPolicy()).ok());
}

TEST(RunKillerTest, KillArgvNamesUidAndSignal) {
  EXPECT_EQ(
      BuildKillArgv("/opt/hero/hero_launcher", 200007, 9),
      (std::vector<std::string>{"/opt/hero/hero_launcher", "--kill-uid=200007", "--signal=9"}));
}

}  // namespace
}  // namespace hero::sandbox
