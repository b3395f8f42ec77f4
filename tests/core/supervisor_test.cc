// Supervisor + Run state machine against real processes, sockets and SQLite, with the sandbox
// replaced by a ScriptLauncher: the run's process is `python3 -c SCRIPT` with the span socket
// at fd 3, so the lifecycle (timeouts, cancel, main exit vs. EOF, calls) is tested on its own.
#include "supervisor/core/supervisor.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "supervisor/core/run_view.h"
#include "supervisor/core/store_pump.h"
#include "tests/testing/script_launcher.h"

namespace hero::core {
namespace {

using testing::ScriptLauncher;

class SupervisorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("hero-core-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    uv_loop_init(&loop_);
    pump_ = std::make_unique<StorePump>(&loop_);
    store::Store::Options o;
    o.path = (dir_ / "db.sqlite").string();
    o.wake = [p = pump_.get()] { p->Wake(); };
    auto st = store::Store::Open(std::move(o));
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    store_ = std::move(st).value();
    pump_->set_store(store_.get());
    SupervisorConfig cfg;
    cfg.data_dir = (dir_ / "data").string();
    cfg.launcher_path = HERO_LAUNCHER_PATH;
    cfg.sdk_dir = HERO_SDK_DIR;
    cfg.runtime_dir = (dir_ / "rt").string();
    cfg.grace = std::chrono::milliseconds(300);
    cfg.drain_timeout = std::chrono::milliseconds(300);
    cfg.probe_untrusted = false;
    sup_ = std::make_unique<Supervisor>(&loop_, cfg, store_.get(), &launcher_, &clock_);
    ASSERT_TRUE(sup_->Init().ok());
  }

  void TearDown() override {
    bool closed = false;
    sup_->Shutdown(std::chrono::milliseconds(0), [&] {
      pump_->Close();
      closed = true;
    });
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_TRUE(closed);
    sup_.reset();
    EXPECT_EQ(uv_loop_close(&loop_), 0) << "a handle was left open";
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Runs one request to completion on the loop.
  store::RunRecord RunToEnd(RunRequest req, std::function<void(RunId)> on_started = nullptr) {
    store::RunRecord out;
    bool done = false;
    sup_->StartRun(
        std::move(req), nullptr,
        [&](Result<RunId> id) {
          ASSERT_TRUE(id.ok());
          if (on_started) on_started(*id);
        },
        [&](const store::RunRecord& rec) {
          out = rec;
          done = true;
          uv_stop(&loop_);
        });
    while (!done) uv_run(&loop_, UV_RUN_ONCE);
    return out;
  }

  SpanTree Tree(RunId id) {
    auto spans = store_->GetSpansSync(id);
    auto logs = store_->GetLogsSync(id);
    return BuildTree(std::move(spans).value(), std::move(logs).value());
  }

  static RunRequest Request(std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    RunRequest r;
    r.source = "# replaced by the script launcher\n";
    r.source_name = "/tmp/test_flow.py";
    r.timeout = timeout;
    return r;
  }

  std::filesystem::path dir_;
  uv_loop_t loop_;
  std::unique_ptr<StorePump> pump_;
  std::unique_ptr<store::Store> store_;
  ScriptLauncher launcher_;
  SystemClock clock_;
  std::unique_ptr<Supervisor> sup_;
};

constexpr const char* kStepScript = R"(
from hero_tracing import flow
with flow.span("root"):
    with flow.step("work"):
        print("hi")
)";

TEST_F(SupervisorTest, OkRunPersistsTreeAndLogs) {
  launcher_.script = kStepScript;
  store::RunRecord rec = RunToEnd(Request());
  EXPECT_EQ(rec.status, RunStatus::kOk) << rec.reason;
  EXPECT_EQ(rec.reason, "ok");
  SpanTree t = Tree(rec.id);
  ASSERT_NE(t.root, nullptr);
  ASSERT_EQ(t.root->children.size(), 1u);
  EXPECT_EQ(t.root->children[0]->span.name, "work");
  ASSERT_EQ(t.root->children[0]->logs.size(), 1u);
  EXPECT_EQ(t.root->children[0]->logs[0].text, "hi\n");
  auto stored = store_->GetRunSync(rec.id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->status, RunStatus::kOk);  // the terminal record is durable
}

TEST_F(SupervisorTest, TimeoutSendsTermThenKillAndClosesOpenSpans) {
  launcher_.script = R"(
import signal, time
from hero_tracing import flow
signal.signal(signal.SIGTERM, signal.SIG_IGN)
with flow.span("root"):
    with flow.step("forever"):
        flow.log("started")
        import hero_tracing; hero_tracing.flush()
        while True: time.sleep(0.05)
)";
  auto t0 = std::chrono::steady_clock::now();
  store::RunRecord rec = RunToEnd(Request(std::chrono::milliseconds(500)));
  auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(rec.status, RunStatus::kTimedOut);
  EXPECT_EQ(rec.reason, "wall-clock timeout 500 ms");
  EXPECT_EQ(rec.signal, SIGKILL);  // SIGTERM was ignored: the grace period ended with SIGKILL
  EXPECT_LT(elapsed, std::chrono::seconds(5));
  SpanTree t = Tree(rec.id);
  for (const auto& n : t.nodes) EXPECT_NE(n->span.status, "running") << n->span.name;
  ASSERT_NE(t.root, nullptr);
  ASSERT_EQ(t.root->children.size(), 1u);
  EXPECT_EQ(t.root->children[0]->span.status, "timed_out");
}

TEST_F(SupervisorTest, CancelEndsRunCancelled) {
  launcher_.script = "import time\nwhile True: time.sleep(0.05)\n";
  store::RunRecord rec = RunToEnd(Request(), [&](RunId id) {
    EXPECT_TRUE(sup_->IsActive(id));
    EXPECT_TRUE(sup_->Cancel(id).ok());
  });
  EXPECT_EQ(rec.status, RunStatus::kCancelled);
  EXPECT_EQ(rec.reason, "cancelled by request");
  EXPECT_EQ(sup_->Cancel(rec.id).code(), StatusCode::kNotFound);
}

TEST_F(SupervisorTest, RunEndsAtMainExitEvenWhenAnOrphanHoldsThePipes) {
  // The forked child keeps stdout and the span socket open for 30 s; the run must still end
  // when the main process exits (bounded by the drain timeout), not at EOF.
  launcher_.script = R"(
import os, time
if os.fork() == 0:
    time.sleep(30)
    os._exit(0)
print("parent exits")
)";
  auto t0 = std::chrono::steady_clock::now();
  store::RunRecord rec = RunToEnd(Request());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
  EXPECT_EQ(rec.status, RunStatus::kOk) << rec.reason;
  SpanTree t = Tree(rec.id);
  ASSERT_NE(t.root, nullptr);  // synthesized: the script sent no span
  EXPECT_EQ(t.root->span.kind, "flow_root");
  EXPECT_NE(t.root->span.status, "running");
}

TEST_F(SupervisorTest, CallWithoutDaemonIsAnsweredWithAnError) {
  launcher_.script = R"(
from hero_tracing import flow, CallError
with flow.span("root"):
    try:
        flow.call("flow_get", {"name": "x"})
        print("no error")
    except CallError as e:
        print("call error:", e.message if hasattr(e, "message") else e)
)";
  store::RunRecord rec = RunToEnd(Request());
  EXPECT_EQ(rec.status, RunStatus::kOk) << rec.reason;
  SpanTree t = Tree(rec.id);
  ASSERT_NE(t.root, nullptr);
  std::string logs;
  for (const auto& l : t.root->logs) logs += l.text;
  EXPECT_NE(logs.find("call error"), std::string::npos) << logs;
  EXPECT_NE(logs.find("not managed by a hero_logic daemon"), std::string::npos) << logs;
}

TEST_F(SupervisorTest, MalformedWireLinesAreCountedAndTheRunContinues) {
  launcher_.script = R"(
import os
os.write(3, b'not json\n{"type":"nope"}\n\xff\xfe\n' + b'{"type":"span_start","id":"1","parent":null,"name":"r","kind":"flow_root","ts":1}\n')
os.write(3, b'{"type":"span_end","id":"1","ts":2,"status":"ok"}\n')
)";
  store::RunRecord rec = RunToEnd(Request());
  EXPECT_EQ(rec.status, RunStatus::kOk);
  EXPECT_EQ(rec.malformed_lines, 2);
  EXPECT_EQ(rec.unknown_type_lines, 1);
  EXPECT_NE(rec.diagnostics_json.find("not json"), std::string::npos);
  EXPECT_EQ(rec.span_count, 1);
}

TEST_F(SupervisorTest, LeftoverProcessOfAnUnleasedRunUidIsKilledAtStart) {
  if (geteuid() != 0)
    GTEST_SKIP() << "needs root: per-run uids exist only when the supervisor runs as root";
  // A process of a run uid that no live supervisor leases, as left behind by a supervisor
  // killed with -9.
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (setresgid(201999, 201999, 201999) != 0 || setresuid(201999, 201999, 201999) != 0) _exit(3);
    execl("/bin/sleep", "sleep", "30", static_cast<char*>(nullptr));
    _exit(4);
  }
  for (int i = 0; i < 100; ++i) {  // wait until it runs as the run uid
    std::string status;
    if (FILE* f = fopen(("/proc/" + std::to_string(pid) + "/status").c_str(), "r")) {
      char buf[4096];
      size_t n = fread(buf, 1, sizeof buf - 1, f);
      buf[n] = 0;
      fclose(f);
      status = buf;
    }
    if (status.find("Uid:\t201999") != std::string::npos) break;
    usleep(10'000);
  }
  SupervisorConfig cfg;
  cfg.data_dir = (dir_ / "data2").string();
  cfg.launcher_path = HERO_LAUNCHER_PATH;
  cfg.sdk_dir = HERO_SDK_DIR;
  cfg.runtime_dir = (dir_ / "rt").string();
  cfg.probe_untrusted = false;
  Supervisor second(&loop_, cfg, store_.get(), &launcher_, &clock_);
  ASSERT_TRUE(second.Init().ok());
  int st = 0;
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) << "status " << st;
  bool closed = false;
  second.Shutdown(std::chrono::milliseconds(0), [&] { closed = true; });
  EXPECT_TRUE(closed);
}

// Start-up stamps (issue #18): the staged runtime is found by stat() of its sources, and a
// successful untrusted probe is remembered for the same host state.
class StartupStampTest : public SupervisorTest {
 protected:
  struct Started {
    std::string runtime_dir, untrusted_unavailable;
  };
  Started InitOnce(SupervisorConfig cfg) {
    Supervisor sup(&loop_, cfg, store_.get(), &launcher_, &clock_);
    Status s = sup.Init();
    EXPECT_TRUE(s.ok()) << s.ToString();
    Started out{sup.config().runtime_dir, sup.untrusted_unavailable()};
    bool closed = false;
    sup.Shutdown(std::chrono::milliseconds(0), [&] { closed = true; });
    for (int i = 0; i < 1000 && !closed; ++i) uv_run(&loop_, UV_RUN_NOWAIT);
    EXPECT_TRUE(closed);
    return out;
  }
  SupervisorConfig Config(const std::string& rt) {
    SupervisorConfig cfg = sup_->config();
    cfg.runtime_dir = rt;
    cfg.probe_untrusted = false;
    return cfg;
  }
  static std::string Read(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  static int Count(const std::filesystem::path& dir, const std::string& prefix) {
    int n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir))
      if (e.path().filename().string().rfind(prefix, 0) == 0) ++n;
    return n;
  }
};

TEST_F(StartupStampTest, StagedRuntimeFollowsEverySdkChange) {
  namespace fs = std::filesystem;
  fs::path sdk = dir_ / "sdk";
  fs::create_directories(sdk);
  fs::copy(fs::path(HERO_SDK_DIR) / "hero_tracing", sdk / "hero_tracing",
           fs::copy_options::recursive);
  SupervisorConfig cfg = Config((dir_ / "rt-base").string());
  cfg.sdk_dir = sdk.string();
  std::string first = InitOnce(cfg).runtime_dir;
  EXPECT_EQ(Count(dir_ / "rt-base", "stamp-"), 1);
  EXPECT_EQ(InitOnce(cfg).runtime_dir, first);  // unchanged sources: found by the stamp

  {
    std::ofstream out(sdk / "hero_tracing" / "__init__.py", std::ios::app);
    out << "# changed by the test\n";
  }
  std::string second = InitOnce(cfg).runtime_dir;
  EXPECT_NE(second, first);
  EXPECT_NE(Read(fs::path(second) / "py/hero_tracing/__init__.py").find("# changed by the test"),
            std::string::npos);

  // The staged copy is gone (a reboot cleared /run) while its stamp is still there: staged anew.
  fs::remove_all(second);
  EXPECT_EQ(InitOnce(cfg).runtime_dir, second);
  EXPECT_TRUE(fs::exists(fs::path(second) / "bin/hero_launcher"));
}

TEST_F(StartupStampTest, OnlyASuccessfulUntrustedProbeIsRemembered) {
  namespace fs = std::filesystem;
  if (!fs::exists("/usr/bin/bwrap")) GTEST_SKIP() << "bubblewrap is not installed on this host";
  fs::path rt = dir_ / "rt-probe";
  SupervisorConfig cfg = Config(rt.string());
  cfg.probe_untrusted = true;
  Started a = InitOnce(cfg);
  if (!a.untrusted_unavailable.empty()) {
    EXPECT_EQ(Count(rt, "probe-"), 0);
    GTEST_SKIP() << "this host cannot run the untrusted profile: " << a.untrusted_unavailable;
  }
  EXPECT_EQ(Count(rt, "probe-"), 1);
  EXPECT_TRUE(InitOnce(cfg).untrusted_unavailable.empty());  // from the remembered probe
  EXPECT_EQ(Count(rt, "probe-"), 1);

  SupervisorConfig missing = cfg;
  missing.bwrap = (dir_ / "no-such-bwrap").string();
  EXPECT_NE(InitOnce(missing).untrusted_unavailable.find("not found"), std::string::npos);
  EXPECT_EQ(Count(rt, "probe-"), 1);  // a failure is not remembered

  SupervisorConfig other = cfg;  // another bwrap binary: probed again, remembered apart
  other.bwrap = (dir_ / "bwrap-copy").string();
  fs::copy_file("/usr/bin/bwrap", other.bwrap);
  fs::permissions(other.bwrap,
                  fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  EXPECT_TRUE(InitOnce(other).untrusted_unavailable.empty());
  EXPECT_EQ(Count(rt, "probe-"), 2);
}

}  // namespace
}  // namespace hero::core
