// Integration tests: the real hero_launcher (and bwrap) run real python as uid 200123, both
// profiles. Needs root (uid switching); untrusted cases need what CheckUntrustedAvailable needs.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "sandbox/launcher_abi.h"
#include "sandbox/policy.h"
#include "sandbox/run_killer.h"
#include "tests/sandbox/sandbox_test_util.h"

namespace hero::sandbox::testing {
namespace {

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

bool HasLine(const std::string& s, const std::string& line) {
  auto l = Lines(s);
  return std::find(l.begin(), l.end(), line) != l.end();
}

class LauncherTest : public ::testing::TestWithParam<Profile> {
 protected:
  void SetUp() override {
    if (!IsRoot()) GTEST_SKIP() << "needs root: the launcher switches to uid " << kRunUid;
    if (GetParam() == Profile::kUntrusted) {
      std::string why = UntrustedUnavailableReason();
      if (!why.empty()) GTEST_SKIP() << why;
    }
    SweepRunUid(scratch_.launcher());
  }
  void TearDown() override { SweepRunUid(scratch_.launcher()); }

  bool untrusted() const { return GetParam() == Profile::kUntrusted; }
  Policy MakePolicy(const std::string& script) const {
    return scratch_.MakePolicy(GetParam(), script);
  }
  RunOutput Launch(const Policy& p, int timeout_s = 90) {
    auto argv = BuildLauncherArgv(p, scratch_.launcher());
    EXPECT_TRUE(argv.ok()) << argv.status().ToString();
    if (!argv.ok()) return {};
    return RunLauncher(*argv, untrusted(), timeout_s);
  }
  RunOutput Launch(const std::string& script) { return Launch(MakePolicy(script)); }

  Scratch scratch_;
};

INSTANTIATE_TEST_SUITE_P(Profiles, LauncherTest,
                         ::testing::Values(Profile::kTrusted, Profile::kUntrusted),
                         [](const ::testing::TestParamInfo<Profile>& param_info) {
                           return std::string(ProfileName(param_info.param));
                         });

TEST_P(LauncherTest, EnvIsExactlyTheAllowlist) {
  Policy p = MakePolicy("import os\nfor k in sorted(os.environ): print(f'{k}={os.environ[k]}')");
  RunOutput r = Launch(p);
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  auto want = BuildChildEnv(p);
  std::sort(want.begin(), want.end());
  EXPECT_EQ(Lines(r.out), want) << r.Describe();
  EXPECT_EQ(r.out.find("sbx-canary"), std::string::npos);
}

TEST_P(LauncherTest, NoProcessEnvironmentLeaksTheCanary) {
  // /proc/1/environ inside bwrap is bwrap's own environment (SPEC 5).
  RunOutput r = Launch(
      "import os\n"
      "for pid in [p for p in os.listdir('/proc') if p.isdigit()]:\n"
      "    try: data = open(f'/proc/{pid}/environ', 'rb').read()\n"
      "    except OSError: continue\n"
      "    if b'sbx-canary' in data: print('LEAK', pid)\n"
      "try: print('PID1ENV', len(open('/proc/1/environ','rb').read()))\n"
      "except OSError as e: print('PID1ENV', e.errno)\n"
      "print('DONE')\n");
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(HasLine(r.out, "DONE")) << r.Describe();
  EXPECT_EQ(r.out.find("LEAK"), std::string::npos) << r.Describe();
  if (untrusted()) {
    EXPECT_TRUE(HasLine(r.out, "PID1ENV 0")) << r.Describe();
  }
}

TEST_P(LauncherTest, OnlyStdioAndSpanSocketAreOpen) {
  RunOutput r = Launch(
      "import os\n"
      "fds = []\n"
      "for fd in range(1024):\n"
      "    try: os.fstat(fd); fds.append(fd)\n"
      "    except OSError: pass\n"
      "print('FDS', fds)\n"
      "import stat; print('SPAN', stat.S_ISSOCK(os.fstat(3).st_mode))\n");
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(HasLine(r.out, "FDS [0, 1, 2, 3]")) << r.Describe();
  EXPECT_TRUE(HasLine(r.out, "SPAN True")) << r.Describe();
  if (untrusted()) {
    EXPECT_TRUE(r.listener_received);
  }
}

TEST_P(LauncherTest, RunsAsRunUidWithNoNewPrivsInOwnSession) {
  RunOutput r = Launch(
      "import os\n"
      "print('UID', os.getuid(), os.geteuid(), os.getgid(), os.getegid(), os.getgroups())\n"
      "st = open('/proc/self/status').read()\n"
      "print([l for l in st.splitlines() if l.startswith('NoNewPrivs')][0].replace('\\t', ' '))\n"
      "print([l for l in st.splitlines() if l.startswith('CapEff')][0].replace('\\t', ' '))\n"
      "print('SESSION', os.getsid(0) == os.getpid(), os.getpgrp() == os.getpid())\n"
      "print('SID', os.getsid(0))\n"
      "try: open('/dev/tty'); print('TTY yes')\n"
      "except OSError as e: print('TTY', e.errno)\n"
      "import pwd\n"
      "try: print('USER', pwd.getpwuid(os.getuid()).pw_name)\n"
      "except KeyError: print('USER unknown')\n");
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  std::string uid = std::to_string(kRunUid);
  EXPECT_TRUE(HasLine(r.out, "UID " + uid + " " + uid + " " + uid + " " + uid + " []"))
      << r.Describe();
  EXPECT_TRUE(HasLine(r.out, "NoNewPrivs: 1")) << r.Describe();
  EXPECT_TRUE(HasLine(r.out, "CapEff: 0000000000000000")) << r.Describe();
  EXPECT_TRUE(HasLine(r.out, "TTY 6")) << r.Describe();  // ENXIO: no controlling terminal
  EXPECT_FALSE(HasLine(r.out, "SID " + std::to_string(getsid(0)))) << r.Describe();
  if (untrusted()) {
    // bwrap --new-session: the session belongs to the sandbox's init (pid 1 of its namespace).
    EXPECT_TRUE(HasLine(r.out, "SID 1")) << r.Describe();
    EXPECT_TRUE(HasLine(r.out, "USER hero")) << r.Describe();
  } else {
    // The launcher's setsid: session and process group of their own (the launcher pid).
    EXPECT_TRUE(HasLine(r.out, "SESSION True True")) << r.Describe();
  }
}

TEST_P(LauncherTest, StagesSourceAndInputFromRootOnlyDir) {
  RunOutput r = Launch(MakePolicy(""));
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  Policy p = MakePolicy("");
  EXPECT_TRUE(HasLine(r.out, "FLOW " + FlowSourcePath(p) + " 41 " + std::to_string(kRunUid)))
      << r.Describe();
  if (!untrusted()) {
    struct stat st;
    ASSERT_EQ(stat((scratch_.workdir() + "/.hero/flow.py").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, kRunUid);
    ASSERT_EQ(stat((scratch_.workdir() + "/tmp").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, kRunUid);
  }
}

TEST_P(LauncherTest, CPythonWorkloadRuns) {
  Policy p = MakePolicy("");
  p.source_path = std::string(HERO_TEST_DATA_DIR) + "/workload.py";
  p.python_args = {"-s", FlowSourcePath(p)};
  // RLIMIT_NPROC counts threads: 64 worker threads + the main thread + helpers exceed the
  // default 64 (see report); the address-space default stays.
  p.limits.processes = 256;
  RunOutput r = Launch(p, 120);
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(HasLine(r.out, "FAILS 0")) << r.Describe();
  EXPECT_TRUE(HasLine(r.out, "WORKLOAD DONE")) << r.Describe();
  EXPECT_TRUE(r.blocked.empty()) << r.Describe();
}

TEST_P(LauncherTest, ThreadsStartUnderDefaultLimits) {
  // Default RLIMIT_AS (2 GiB) with MALLOC_ARENA_MAX=2; NPROC 64 leaves room for 60 threads.
  RunOutput r = Launch(
      "import threading\n"
      "ev = threading.Event(); ts = [threading.Thread(target=ev.wait) for _ in range(60)]\n"
      "[t.start() for t in ts]; ev.set(); [t.join() for t in ts]; print('THREADS OK')\n");
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(HasLine(r.out, "THREADS OK")) << r.Describe();
}

TEST_P(LauncherTest, LauncherFailureIsExit126WithMessage) {
  Policy p = MakePolicy("print('never')");
  p.source_path = scratch_.run_dir() + "/does-not-exist.py";
  RunOutput r = Launch(p);
  EXPECT_EQ(r.exit_code, abi::kExitLauncherFailure) << r.Describe();
  EXPECT_EQ(r.err.rfind("hero_launcher: open source", 0), 0u) << r.Describe();
  EXPECT_EQ(r.out, "");
}

TEST_P(LauncherTest, DaemonDiesWithTheRun) {
  // E43: double fork + setsid daemon; the main process exits at once.
  RunOutput r = Launch(
      "import os, signal, time\n"
      "pid = os.fork()\n"
      "if pid == 0:\n"
      "    os.setsid()\n"
      "    if os.fork() != 0: os._exit(0)\n"
      "    signal.signal(signal.SIGTERM, signal.SIG_IGN); signal.signal(signal.SIGHUP, "
      "signal.SIG_IGN)\n"
      "    fd = os.open('/dev/null', os.O_RDWR)\n"
      "    for i in range(4): os.dup2(fd, i)\n"
      "    while True: time.sleep(0.2)\n"
      "os.waitpid(pid, 0)\n"
      "time.sleep(0.3)\n"
      "print('MAIN EXIT', flush=True)\n");
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  if (untrusted()) {
    // The pid namespace dies with bwrap's init.
    EXPECT_TRUE(WaitForNoProcessesOfUid(kRunUid, 2000).empty());
    return;
  }
  EXPECT_FALSE(ListProcessesOfUid(kRunUid).empty()) << "the daemon should still be alive";
  RunOutput k = RunLauncher(BuildKillArgv(scratch_.launcher(), kRunUid, SIGKILL), false, 10, 100);
  EXPECT_EQ(k.exit_code, 0) << k.Describe();
  EXPECT_TRUE(WaitForNoProcessesOfUid(kRunUid, 2000).empty());
}

TEST_P(LauncherTest, SigtermSweepReachesTheFlow) {
  // E37 shape: the flow handles SIGTERM; the sweep must reach it (not only bwrap).
  Policy p = MakePolicy(
      "import signal, sys, time\n"
      "def h(*_): print('got SIGTERM', flush=True); sys.exit(0)\n"
      "signal.signal(signal.SIGTERM, h)\n"
      "print('READY', flush=True)\n"
      "time.sleep(30)\n");
  RunOutput r;
  std::thread t([&] { r = Launch(p, 40); });
  for (int i = 0; i < 100 && ListProcessesOfUid(kRunUid).empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // Wait until the flow has installed its handler (SigCgt has SIGTERM), not a fixed time: on a
  // loaded machine Python may need longer than any sleep to get there.
  auto handler_installed = [] {
    for (pid_t pid : ListProcessesOfUid(kRunUid)) {
      std::ifstream st("/proc/" + std::to_string(pid) + "/status");
      std::string line;
      while (std::getline(st, line)) {
        if (line.rfind("SigCgt:", 0) == 0 &&
            ((std::stoull(line.substr(7), nullptr, 16) >> (SIGTERM - 1)) & 1)) {
          return true;
        }
      }
    }
    return false;
  };
  for (int i = 0; i < 500 && !handler_installed(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  RunOutput k = RunLauncher(BuildKillArgv(scratch_.launcher(), kRunUid, SIGTERM), false, 10, 100);
  t.join();
  EXPECT_EQ(k.exit_code, 0) << k.Describe();
  EXPECT_TRUE(HasLine(r.out, "got SIGTERM")) << r.Describe();
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
}

TEST(LauncherRefusalTest, RefusesUidZero) {
  if (!IsRoot()) GTEST_SKIP() << "needs root: the refusal applies when the supervisor is root";
  Scratch scratch;
  Policy p = scratch.MakePolicy(Profile::kTrusted, "import os; print('RAN AS', os.getuid())");
  p.uid = 0;
  p.gid = 0;
  auto argv = BuildLauncherArgv(p, scratch.launcher());
  ASSERT_TRUE(argv.ok());
  RunOutput r = RunLauncher(*argv, false);
  EXPECT_EQ(r.exit_code, 126) << r.Describe();
  EXPECT_EQ(r.err.rfind("hero_launcher: refusing to run a flow as uid 0", 0), 0u) << r.Describe();
  EXPECT_EQ(r.out.find("RAN AS"), std::string::npos);

  // Explicit --uid=0 as well.
  std::vector<std::string> raw = {scratch.launcher(), "--mode=trusted", "--uid=0",
                                  "--gid=0",          "--workdir=/tmp", "--",
                                  "/usr/bin/id"};
  r = RunLauncher(raw, false);
  EXPECT_EQ(r.exit_code, 126) << r.Describe();
  EXPECT_NE(r.err.find("refusing to run a flow as uid/gid 0"), std::string::npos) << r.Describe();
}

TEST(LauncherRefusalTest, KillSweepRefusesRootAndOwnUid) {
  Scratch scratch;
  RunOutput r = RunLauncher(BuildKillArgv(scratch.launcher(), 0, SIGKILL), false);
  EXPECT_EQ(r.exit_code, 126) << r.Describe();
  EXPECT_NE(r.err.find("refusing --kill-uid=0"), std::string::npos) << r.Describe();
  if (getuid() != 0) {
    r = RunLauncher(BuildKillArgv(scratch.launcher(), getuid(), SIGKILL), false);
    EXPECT_EQ(r.exit_code, 126) << r.Describe();
    EXPECT_NE(r.err.find("own uid"), std::string::npos) << r.Describe();
  }
}

TEST(LauncherRefusalTest, UnknownArgumentIsRejected) {
  Scratch scratch;
  RunOutput r = RunLauncher({scratch.launcher(), "--mode=trusted", "--bogus"}, false);
  EXPECT_EQ(r.exit_code, 126);
  EXPECT_EQ(r.err.rfind("hero_launcher: unknown argument '--bogus'", 0), 0u) << r.Describe();
}

}  // namespace
}  // namespace hero::sandbox::testing
