// Integration tests for per-run cgroups on this host's real cgroupfs: the launcher joins the
// group before exec, memory and pids limits bite, KillAll ends daemons, groups are removed.
// Needs root; skips with the detection reason when no cgroup hierarchy is writable.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "sandbox/cgroup.h"
#include "sandbox/host_features.h"
#include "sandbox/launcher_abi.h"
#include "sandbox/policy.h"
#include "tests/sandbox/sandbox_test_util.h"

namespace hero::sandbox::testing {
namespace {

// One detection per test binary (as the supervisor does at start); parents removed at exit.
struct SharedHost {
  CgroupHost host = IsRoot() ? DetectCgroups() : CgroupHost{};
  ~SharedHost() { (void)RemoveCgroupParents(host); }
};
const CgroupHost& Host() {
  static SharedHost shared;
  return shared.host;
}

std::string UniqueName(const std::string& what) {
  static int n = 0;
  return "t" + std::to_string(getpid()) + "-" + what + "-" + std::to_string(++n);
}

bool DirExists(const std::string& d) {
  struct stat st;
  return stat(d.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string FindLine(const std::string& text, const std::string& prefix) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) == 0) return line;
  }
  return "";
}

class CgroupIntegrationTest : public ::testing::TestWithParam<Profile> {
 protected:
  void SetUp() override {
    if (!IsRoot()) GTEST_SKIP() << "needs root: cgroups and uid " << kRunUid;
    if (Host().kind == CgroupHost::kNone) GTEST_SKIP() << DescribeCgroups(Host());
    if (GetParam() == Profile::kUntrusted) {
      std::string why = UntrustedUnavailableReason();
      if (!why.empty()) GTEST_SKIP() << why;
    }
    SweepRunUid(scratch_.launcher());
  }
  void TearDown() override { SweepRunUid(scratch_.launcher()); }

  RunOutput Launch(Policy p, const RunCgroup& cg, int timeout_s = 90) {
    p.cgroup_procs = cg.procs_files();
    auto argv = BuildLauncherArgv(p, scratch_.launcher());
    EXPECT_TRUE(argv.ok()) << argv.status().ToString();
    if (!argv.ok()) return {};
    return RunLauncher(*argv, p.profile == Profile::kUntrusted, timeout_s);
  }

  Scratch scratch_;
};

INSTANTIATE_TEST_SUITE_P(Profiles, CgroupIntegrationTest,
                         ::testing::Values(Profile::kTrusted, Profile::kUntrusted),
                         [](const ::testing::TestParamInfo<Profile>& param_info) {
                           return std::string(ProfileName(param_info.param));
                         });

class CgroupTrustedTest : public CgroupIntegrationTest {};
INSTANTIATE_TEST_SUITE_P(Trusted, CgroupTrustedTest, ::testing::Values(Profile::kTrusted),
                         [](const ::testing::TestParamInfo<Profile>&) {
                           return std::string("trusted");
                         });

TEST(CgroupHostTest, DetectFindsThisHostsHierarchies) {
  if (!IsRoot()) GTEST_SKIP() << "needs root";
  const CgroupHost& h = Host();
  if (h.kind == CgroupHost::kNone) GTEST_SKIP() << DescribeCgroups(h);
  std::cerr << DescribeCgroups(h) << "\n";
  for (const auto& note : h.notes) std::cerr << "  " << note << "\n";
  if (h.kind == CgroupHost::kV1) {
    EXPECT_TRUE(DirExists(h.memory_root)) << h.memory_root;
    EXPECT_TRUE(DirExists(h.pids_root)) << h.pids_root;
    EXPECT_NE(DescribeCgroups(h).find("cgroups: v1 (memory, pids"), std::string::npos);
  } else {
    EXPECT_TRUE(DirExists(h.unified_root)) << h.unified_root;
  }
  // The doctor's probe agrees and writes nothing.
  HostFeatures f = ProbeHost("/usr/bin/bwrap");
  EXPECT_EQ(f.cgroups.kind, h.kind) << f.cgroups.why_none;
  EXPECT_NE(DescribeHost(f).find("— per-run memory and pids limits"), std::string::npos)
      << DescribeHost(f);
}

TEST_P(CgroupIntegrationTest, MemoryLimitOomKillsTheFlowAndIsReported) {
  auto cg = RunCgroup::Create(Host(), UniqueName("oom"), {64 * kMiB, 0});
  ASSERT_TRUE(cg.ok()) << cg.status().ToString();
  Policy p = scratch_.MakePolicy(GetParam(),
                                 "chunks = []\n"
                                 "for i in range(20):\n"
                                 "    chunks.append(b'x' * (10 << 20))\n"
                                 "    print('ALLOC', (i + 1) * 10, flush=True)\n"
                                 "print('SURVIVED')\n");
  RunOutput r = Launch(p, *cg);
  EXPECT_EQ(r.out.find("SURVIVED"), std::string::npos) << r.Describe();
  // trusted: the launcher pid is python; untrusted: bwrap reports 128 + SIGKILL.
  if (GetParam() == Profile::kTrusted) {
    EXPECT_EQ(r.term_signal, SIGKILL) << r.Describe();
  } else {
    EXPECT_TRUE(r.exit_code == 128 + SIGKILL || r.term_signal == SIGKILL) << r.Describe();
  }
  auto st = cg->ReadStats();
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  ASSERT_TRUE(st->oom_kills.has_value());
  EXPECT_GT(*st->oom_kills, 0u);
  ASSERT_TRUE(st->memory_peak_bytes.has_value());
  EXPECT_GE(*st->memory_peak_bytes, 60 * kMiB);
  EXPECT_LE(*st->memory_peak_bytes, 64 * kMiB);
  EXPECT_TRUE(cg->KillAll().ok());
}

TEST_P(CgroupTrustedTest, PidsMaxStopsForksBeforeRlimitNproc) {
  auto cg = RunCgroup::Create(Host(), UniqueName("pids"), {0, 16});
  ASSERT_TRUE(cg.ok()) << cg.status().ToString();
  Policy p = scratch_.MakePolicy(Profile::kTrusted,
                                 "import os\n"
                                 "r, w = os.pipe()\n"
                                 "n, kids = 1, []\n"
                                 "try:\n"
                                 "    while n < 500:\n"
                                 "        pid = os.fork()\n"
                                 "        if pid == 0:\n"
                                 "            os.close(w); os.read(r, 1); os._exit(0)\n"
                                 "        kids.append(pid); n += 1\n"
                                 "    print('NEVER STOPPED', n, flush=True)\n"
                                 "except BlockingIOError as e:\n"
                                 "    print('STOPPED', n, e.errno, flush=True)\n"
                                 "os.close(w)\n"
                                 "for k in kids: os.waitpid(k, 0)\n"
                                 "print('DONE')\n");
  p.limits.processes = 4096;  // RLIMIT_NPROC far above pids.max
  RunOutput r = Launch(p, *cg);
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  std::string line = FindLine(r.out, "STOPPED ");
  ASSERT_FALSE(line.empty()) << r.Describe();
  int n = 0, err = 0;
  ASSERT_EQ(std::sscanf(line.c_str(), "STOPPED %d %d", &n, &err), 2) << line;
  EXPECT_LE(n, 16) << r.Describe();
  EXPECT_GE(n, 8) << r.Describe();
  EXPECT_EQ(err, EAGAIN);
  auto st = cg->ReadStats();
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  ASSERT_TRUE(st->pids_limit_hits.has_value());
  EXPECT_GT(*st->pids_limit_hits, 0u);
  if (st->pids_peak) {
    EXPECT_LE(*st->pids_peak, 16u);
  }
}

// The daemon double-forks with setsid, so the launcher's process group does not reach it.
constexpr const char* kDaemonScript =
    "import os, time\n"
    "r, w = os.pipe()\n"
    "if os.fork() == 0:\n"
    "    os.setsid()\n"
    "    if os.fork() == 0:\n"
    "        print('DAEMON', os.getpid(), flush=True)\n"
    "        fd = os.open('/dev/null', os.O_RDWR)\n"
    "        for i in (0, 1, 2): os.dup2(fd, i)\n"
    "        os.write(w, b'x')\n"
    "        time.sleep(600)\n"
    "    os._exit(0)\n"
    "os.close(w)\n"
    "os.read(r, 1)\n"
    "t = time.process_time()\n"
    "while time.process_time() - t < 0.3: pass\n"
    "print('MAIN DONE', flush=True)\n";

void ExpectKillAllEndsDaemon(const RunOutput& r, RunCgroup& cg) {
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  std::string line = FindLine(r.out, "DAEMON ");
  ASSERT_FALSE(line.empty()) << r.Describe();
  pid_t daemon = static_cast<pid_t>(std::stol(line.substr(7)));
  ASSERT_EQ(kill(daemon, 0), 0) << "daemon " << daemon << " should still run";
  auto pids = cg.Pids();
  EXPECT_NE(std::find(pids.begin(), pids.end(), daemon), pids.end()) << "daemon not in group";
  auto st = cg.ReadStats();
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  if (st->cpu_usage_usec) {
    EXPECT_GE(*st->cpu_usage_usec, 250000u);
  }

  Status s = cg.KillAll();
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(cg.Pids().empty());
  for (const auto& f : cg.procs_files()) {
    std::ifstream in(f);
    std::string content((std::istreambuf_iterator<char>(in)), {});
    EXPECT_EQ(content, "") << f;
  }
  // Reparented to us (child subreaper): reap it, then nothing of the run uid is left.
  EXPECT_TRUE(WaitForNoProcessesOfUid(kRunUid, 2000).empty());
}

TEST_P(CgroupIntegrationTest, KillAllEndsASetsidDaemonAndTheGroupIsRemoved) {
  std::vector<std::string> dirs;
  {
    auto cg = RunCgroup::Create(Host(), UniqueName("daemon"), {256 * kMiB, 64});
    ASSERT_TRUE(cg.ok()) << cg.status().ToString();
    dirs = cg->dirs();
    for (const auto& d : dirs) EXPECT_TRUE(DirExists(d)) << d;
    RunOutput r = Launch(scratch_.MakePolicy(GetParam(), kDaemonScript), *cg);
    if (GetParam() == Profile::kUntrusted) {
      // bwrap --die-with-parent tears the pid namespace down with the flow; nothing to kill.
      ASSERT_EQ(r.exit_code, 0) << r.Describe();
      EXPECT_TRUE(cg->KillAll().ok());
      EXPECT_TRUE(cg->Pids().empty());
    } else {
      ExpectKillAllEndsDaemon(r, *cg);
    }
  }
  for (const auto& d : dirs) EXPECT_FALSE(DirExists(d)) << d << " left behind";
}

// cgroup v2 without controllers still offers cgroup.kill, cgroup.freeze and cpu.stat: this
// host's hybrid /sys/fs/cgroup/unified exercises the real v2 kill path.
TEST_P(CgroupTrustedTest, V2KillWorksOnTheRealUnifiedHierarchy) {
  std::ifstream mi("/proc/self/mountinfo"), pc("/proc/self/cgroup");
  std::string mountinfo((std::istreambuf_iterator<char>(mi)), {});
  std::string own((std::istreambuf_iterator<char>(pc)), {});
  std::string dir;
  for (const auto& m : ParseMountInfo(mountinfo)) {
    if (m.fstype != "cgroup2" || m.root != "/") continue;
    for (const auto& e : ParseProcCgroup(own)) {
      if (e.hierarchy_id == 0) dir = m.mount_point + (e.path == "/" ? "" : e.path);
    }
    break;
  }
  if (dir.empty() || access(dir.c_str(), W_OK) != 0) GTEST_SKIP() << "no writable cgroup2 here";
  CgroupHost v2;
  v2.kind = CgroupHost::kV2;
  v2.unified_root = dir + "/hero_logic-v2test-" + std::to_string(getpid());
  std::vector<std::string> dirs;
  {
    auto cg = RunCgroup::Create(v2, "daemon", {});  // limits need memory/pids: none here
    ASSERT_TRUE(cg.ok()) << cg.status().ToString();
    dirs = cg->dirs();
    ASSERT_EQ(access((dirs[0] + "/cgroup.kill").c_str(), F_OK), 0) << "kernel < 5.14?";
    RunOutput r = Launch(scratch_.MakePolicy(Profile::kTrusted, kDaemonScript), *cg);
    ExpectKillAllEndsDaemon(r, *cg);
    auto st = cg->ReadStats();  // after the kill: cpu.stat still readable
    ASSERT_TRUE(st.ok());
    ASSERT_TRUE(st->cpu_usage_usec.has_value());
    EXPECT_GE(*st->cpu_usage_usec, 250000u);
  }
  for (const auto& d : dirs) EXPECT_FALSE(DirExists(d)) << d << " left behind";
  EXPECT_TRUE(RemoveCgroupParents(v2).ok());
  EXPECT_FALSE(DirExists(v2.unified_root));
}

TEST_P(CgroupTrustedTest, FailureToJoinIsALauncherFailure) {
  Policy p = scratch_.MakePolicy(Profile::kTrusted, "print('RAN')");
  p.cgroup_procs = {"/nonexistent/hero/cgroup.procs"};
  auto argv = BuildLauncherArgv(p, scratch_.launcher());
  ASSERT_TRUE(argv.ok());
  RunOutput r = RunLauncher(*argv, false, 30);
  EXPECT_EQ(r.exit_code, abi::kExitLauncherFailure) << r.Describe();
  EXPECT_EQ(r.out.find("RAN"), std::string::npos);
  EXPECT_EQ(r.err.rfind("hero_launcher: join cgroup: open /nonexistent/hero/cgroup.procs: ", 0), 0u)
      << r.Describe();
}

}  // namespace
}  // namespace hero::sandbox::testing
