// Test-side supervisor: spawn, capture, answer seccomp notifications, reap.
#include "tests/sandbox/sandbox_test_util.h"

#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "sandbox/host_features.h"
#include "sandbox/run_killer.h"
#include "supervisor/base/unique_fd.h"

extern char** environ;

namespace hero::sandbox::testing {

namespace {
// kRunUid lies in the supervisors' run-uid range, and a supervisor's end-of-run sweep kills
// every process of its run's uid. Leasing it the way supervisors do (flock on
// /run/hero_logic/uids/<uid>.lock, which AcquireUid skips while held) keeps a daemon that runs
// in a parallel test from handing it to a run and killing these tests' launchers.
class RunUidLease : public ::testing::Environment {
 public:
  void SetUp() override {
    std::error_code ec;
    std::filesystem::create_directories("/run/hero_logic/uids", ec);
    std::string path = "/run/hero_logic/uids/" + std::to_string(kRunUid) + ".lock";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ >= 0) (void)::flock(fd_, LOCK_EX);  // waits for a run that holds it to end
  }
  void TearDown() override {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  int fd_ = -1;
};
[[maybe_unused]] ::testing::Environment* const kLease =
    ::testing::AddGlobalTestEnvironment(new RunUidLease);
}  // namespace
namespace {

namespace fs = std::filesystem;

// Child subreaper for the whole test binary (like the supervisor), and the env canary.
struct GlobalSetup {
  GlobalSetup() {
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    setenv("SUPERVISOR_CANARY", kCanary, 1);
  }
} global_setup;

// Moves an fd above the range posix_spawn dup2s into (dup2(fd, fd) would keep CLOEXEC).
UniqueFd High(UniqueFd fd) {
  int n = fcntl(fd.get(), F_DUPFD_CLOEXEC, 100);
  return UniqueFd(n);
}

// Children RunLauncher is still waiting for (a test may run two at once on two threads).
std::mutex g_spawned_mu;
std::set<pid_t> g_spawned;

// Reaps adopted orphans only: waitpid(-1) would also take the exit status of a launcher that
// another thread's RunLauncher is waiting for (seen: that RunLauncher then never saw its
// child exit). A zombie still owned by a RunLauncher hides the ones behind it until then.
void ReapOrphans() {
  for (;;) {
    siginfo_t info{};
    if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) return;
    {
      std::lock_guard<std::mutex> lock(g_spawned_mu);
      if (g_spawned.count(info.si_pid)) return;
    }
    waitpid(info.si_pid, nullptr, WNOHANG);
  }
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string RunOutput::Describe() const {
  std::string s = "exit=" + std::to_string(exit_code) + " sig=" + std::to_string(term_signal) +
                  (timed_out ? " TIMED OUT" : "") + "\n--- stdout ---\n" + out.substr(0, 8000) +
                  "\n--- stderr ---\n" + err.substr(0, 8000) + "\n--- blocked:";
  for (const auto& b : blocked) s += " " + b.name + "(" + std::to_string(b.pid) + ")";
  return s;
}

RunOutput RunLauncher(const std::vector<std::string>& argv, bool notify, int timeout_s,
                      int drain_ms) {
  RunOutput r;
  auto out = MakePipe();
  auto err = MakePipe();
  auto span = MakeSocketPair();
  auto note = MakeSocketPair();
  if (!out.ok() || !err.ok() || !span.ok() || !note.ok()) return r;
  UniqueFd out_w = High(std::move(out->second)), err_w = High(std::move(err->second));
  UniqueFd span_child = High(std::move(span->second));
  UniqueFd note_child = High(std::move(note->second));

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out_w.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, err_w.get(), 2);
  posix_spawn_file_actions_adddup2(&fa, span_child.get(), 3);
  if (notify) posix_spawn_file_actions_adddup2(&fa, note_child.get(), 4);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc;
  {
    // Registered before any other thread's ReapOrphans can see it exit.
    std::lock_guard<std::mutex> lock(g_spawned_mu);
    rc = posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
    if (rc == 0) g_spawned.insert(pid);
  }
  posix_spawn_file_actions_destroy(&fa);
  out_w.Reset();
  err_w.Reset();
  span_child.Reset();
  note_child.Reset();
  if (rc != 0) {
    r.err = std::string("posix_spawn: ") + strerror(rc);
    return r;
  }
  r.spawned = true;
  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  UniqueFd out_r = std::move(out->first), err_r = std::move(err->first);
  UniqueFd note_r = notify ? std::move(note->first) : UniqueFd();
  (void)SetNonBlocking(note_r.get(), true);
  UniqueFd listener;
  const int64_t deadline = NowMs() + timeout_s * 1000;
  int64_t exited_at = -1;
  for (;;) {
    const int64_t now = NowMs();
    if (exited_at < 0 && now > deadline) {
      r.timed_out = true;
      kill(pid, SIGKILL);
      if (!pidfd || now > deadline + 5000) exited_at = now;  // cannot see the exit: stop
    }
    if (exited_at >= 0 && ((!out_r && !err_r) || now > exited_at + drain_ms)) break;
    pollfd p[5] = {{out_r.get(), POLLIN, 0},
                   {err_r.get(), POLLIN, 0},
                   {note_r.get(), POLLIN, 0},
                   {listener.get(), POLLIN, 0},
                   {pidfd.get(), POLLIN, 0}};
    int n = poll(p, 5, 50);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      UniqueFd& fd = i == 0 ? out_r : err_r;
      std::string& dst = i == 0 ? r.out : r.err;
      if (fd && (p[i].revents & (POLLIN | POLLHUP | POLLERR))) {
        char buf[65536];
        ssize_t k = read(fd.get(), buf, sizeof buf);
        if (k > 0) {
          if (dst.size() < (16u << 20)) dst.append(buf, static_cast<size_t>(k));
        } else if (k == 0 || errno != EINTR) {
          fd.Reset();
        }
      }
    }
    if (note_r && (p[2].revents & (POLLIN | POLLHUP | POLLERR))) {
      auto got = ReceiveListenerFd(note_r.get());
      if (got.ok()) {
        listener = std::move(got).value();
        r.listener_received = true;
        note_r.Reset();
      } else if (got.status().code() != StatusCode::kUnavailable) {
        note_r.Reset();
      }
    }
    if (listener && (p[3].revents & (POLLIN | POLLHUP | POLLERR))) {
      auto b = HandleNotification(listener.get());
      if (b.ok()) {
        r.blocked.push_back(std::move(b).value());
      } else if (b.status().code() == StatusCode::kIo) {
        listener.Reset();
      }
    }
    if (exited_at < 0 && (p[4].revents & POLLIN)) exited_at = NowMs();
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  {
    std::lock_guard<std::mutex> lock(g_spawned_mu);
    g_spawned.erase(pid);
  }
  if (WIFEXITED(st)) r.exit_code = WEXITSTATUS(st);
  if (WIFSIGNALED(st)) r.term_signal = WTERMSIG(st);
  ReapOrphans();
  if (getenv("HERO_TEST_VERBOSE") != nullptr) fprintf(stderr, "%s\n", r.Describe().c_str());
  return r;
}

Scratch::Scratch() {
  char tmpl[] = "/tmp/hero-sbx-test-XXXXXX";
  root_ = mkdtemp(tmpl);
  chmod(root_.c_str(), 0755);
  runtime_dir_ = root_ + "/runtime";
  workdir_ = root_ + "/work";
  run_dir_ = root_ + "/rundir";
  fs::create_directories(runtime_dir_ + "/bin");
  fs::copy_file(HERO_TEST_LAUNCHER, launcher(), fs::copy_options::overwrite_existing);
  chmod(launcher().c_str(), 0755);
  std::error_code ec;
  fs::copy(HERO_TEST_PY_DIR, runtime_dir_ + "/py", fs::copy_options::recursive, ec);
  fs::create_directories(runtime_dir_ + "/py");
  for (const auto& d : {runtime_dir_, runtime_dir_ + "/bin", runtime_dir_ + "/py"}) {
    chmod(d.c_str(), 0755);
  }
  fs::create_directories(workdir_);
  chown(workdir_.c_str(), kRunUid, kRunGid);
  chmod(workdir_.c_str(), 0700);
  // The run dir is root-only, like /root/.local/share/...: the launcher opens files as root.
  fs::create_directories(run_dir_);
  chmod(run_dir_.c_str(), 0700);
  std::ofstream(run_dir_ + "/flow.py") << "import json, os, sys\n"
                                          "with open(sys.argv[1]) as f: data = json.load(f)\n"
                                          "print('FLOW', __file__, data['x'], os.getuid())\n";
  std::ofstream(run_dir_ + "/input.json") << "{\"x\": 41}\n";
}

Scratch::~Scratch() {
  std::error_code ec;
  fs::remove_all(root_, ec);
}

Policy Scratch::MakePolicy(Profile profile, const std::string& script) const {
  Policy p;
  p.profile = profile;
  p.uid = kRunUid;
  p.gid = kRunGid;
  p.workdir = workdir_;
  p.runtime_dir = runtime_dir_;
  p.source_path = run_dir_ + "/flow.py";
  p.input_path = run_dir_ + "/input.json";
  p.flow_name = "test_flow";
  p.run_id = "4242";
  if (script.empty()) {
    p.python_args = {"-s", FlowSourcePath(p), FlowInputPath(p)};
  } else {
    p.python_args = {"-s", "-c", script};
  }
  return p;
}

std::vector<pid_t> WaitForNoProcessesOfUid(uid_t uid, int timeout_ms) {
  const int64_t deadline = NowMs() + timeout_ms;
  for (;;) {
    ReapOrphans();
    auto left = ListProcessesOfUid(uid);
    if (left.empty() || NowMs() > deadline) return left;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void SweepRunUid(const std::string& launcher) {
  if (!IsRoot()) return;
  auto r = RunLauncher(BuildKillArgv(launcher, kRunUid, SIGKILL), false, 10, 100);
  (void)r;
  WaitForNoProcessesOfUid(kRunUid, 2000);
}

bool IsRoot() { return geteuid() == 0; }

std::string UntrustedUnavailableReason() {
  static const std::string reason = [] {
    HostFeatures f = ProbeHost("/usr/bin/bwrap");
    Status s = CheckUntrustedAvailable(f);
    return s.ok() ? std::string() : s.message();
  }();
  return reason;
}

}  // namespace hero::sandbox::testing
