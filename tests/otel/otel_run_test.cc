// End to end: the real `hero_logic run` exports a flow with nested steps, tags, logs, an rpc
// span, a failed step and a sandbox kill to an in-process OTLP receiver, in both encodings;
// the trace continues a given traceparent, and the flow sees TRACEPARENT. A collector that is
// down or never answers changes nothing about the run and cannot hold the CLI's exit.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "tests/otel/otlp_decode.h"
#include "tests/otel/otlp_receiver.h"

namespace hero {
namespace {

namespace fs = std::filesystem;
using testing::Decoded;
using testing::DecodedSpan;
using testing::OtlpReceiver;

constexpr const char* kTrace = "0af7651916cd43dd8448eb211c80319c";
constexpr const char* kParent = "b7ad6b7169203331";

constexpr const char* kFlow = R"(import os, signal, time
from hero_tracing import flow, instrument

class Kv:
    def fetch(self, key, headers=None):
        return (headers or {}).get("traceparent")

@flow(name="otel_demo")
def main():
    print("TP=" + os.environ.get("TRACEPARENT", ""))
    with flow.step("outer", count=3, ratio=0.5, enabled=True, label="x"):
        with flow.step("inner"):
            print("inside inner")
            flow.tag(downstream=instrument(Kv(), service="kv").fetch("k"))
        try:
            with flow.step("bad"):
                raise ValueError("boom")
        except ValueError:
            pass
    with flow.step("doomed"):
        time.sleep(0.3)  # the SDK's background flusher sends what is buffered (10 ms)
        os.kill(os.getpid(), signal.SIGXCPU)
        time.sleep(5)
)";

struct CliResult {
  int exit_code = -1;
  std::string out;
  double seconds = 0;
};

class OtelRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("hero_otel_run_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "otel_demo.py") << kFlow;
    for (const char* v : {"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                          "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_SDK_DISABLED", "OTEL_SERVICE_NAME",
                          "OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_LOGS_EXPORTER"}) {
      ::unsetenv(v);
    }
  }
  void TearDown() override { fs::remove_all(dir_); }

  CliResult Run(const std::string& extra_args) {
    std::string cmd = std::string(HERO_LOGIC_BIN) + " run " + (dir_ / "otel_demo.py").string() +
                      " --quiet --data " + (dir_ / "data").string() + " " + extra_args + " 2>&1";
    auto t0 = std::chrono::steady_clock::now();
    CliResult r;
    FILE* p = ::popen(cmd.c_str(), "r");
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    int status = ::pclose(p);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return r;
  }

  // Runs the demo flow exporting to `rx` with `protocol` and checks the whole trace.
  void ExpectFullTrace(OtlpReceiver& rx, const char* protocol, const char* content_type) {
    ::setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rx.url().c_str(), 1);
    ::setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol, 1);
    ::setenv("OTEL_SERVICE_NAME", "hero-test", 1);
    CliResult r = Run(std::string("--traceparent 00-") + kTrace + "-" + kParent +
                      "-01 --tracestate vendor=abc");
    ASSERT_EQ(r.exit_code, 125) << r.out;  // killed by a sandbox limit

    for (const auto& req : rx.requests()) EXPECT_EQ(req.content_type, content_type);
    Decoded d = testing::DecodeAll(rx.requests());
    ASSERT_EQ(d.bad, 0);
    ASSERT_EQ(d.spans.size(), 6u) << r.out;
    EXPECT_EQ(d.resource["service.name"], "s:hero-test");
    EXPECT_FALSE(d.resource["host.name"].empty());

    const DecodedSpan *root = d.Span("otel_demo"), *outer = d.Span("outer"),
                      *inner = d.Span("inner"), *rpc = d.Span("kv.fetch"), *bad = d.Span("bad"),
                      *doomed = d.Span("doomed");
    ASSERT_TRUE(root && outer && inner && rpc && bad && doomed);
    std::set<std::string> ids;
    for (const auto& s : d.spans) {
      EXPECT_EQ(s.trace_id, kTrace) << s.name;
      EXPECT_EQ(s.trace_state, "vendor=abc") << s.name;
      EXPECT_EQ(s.flags & 0xff, 1u) << s.name;
      EXPECT_EQ(s.span_id.size(), 16u);
      EXPECT_TRUE(ids.insert(s.span_id).second) << "duplicate span id " << s.name;
      EXPECT_EQ(s.attrs.at("hero.flow"), "s:otel_demo") << s.name;
      EXPECT_EQ(s.attrs.at("hero.profile"), "s:trusted") << s.name;
      EXPECT_EQ(s.attrs.count("hero.run_id"), 1u) << s.name;
      EXPECT_GE(s.end_ns, s.start_ns) << s.name;
    }
    // Parent links exactly as the span tree; the root continues the given traceparent.
    EXPECT_EQ(root->parent, kParent);
    EXPECT_EQ(outer->parent, root->span_id);
    EXPECT_EQ(inner->parent, outer->span_id);
    EXPECT_EQ(rpc->parent, inner->span_id);
    EXPECT_EQ(bad->parent, outer->span_id);
    EXPECT_EQ(doomed->parent, root->span_id);
    // The flow saw TRACEPARENT naming its root span (its first log line).
    bool saw_tp = false, saw_inner = false;
    for (const auto& l : d.logs) {
      EXPECT_EQ(l.trace_id, kTrace);
      if (l.body == std::string("TP=00-") + kTrace + "-" + root->span_id + "-01") {
        saw_tp = true;
        EXPECT_EQ(l.span_id, root->span_id);
      }
      if (l.body == "inside inner") {
        saw_inner = true;
        EXPECT_EQ(l.span_id, inner->span_id);
        EXPECT_EQ(l.severity_text, "INFO");
        EXPECT_EQ(l.attrs.at("log.iostream"), "s:stdout");
      }
    }
    EXPECT_TRUE(saw_tp) << "TRACEPARENT inside the run names the root span";
    EXPECT_TRUE(saw_inner);
    // Kinds, typed tags, rpc attributes, and the downstream call continued the rpc span.
    EXPECT_EQ(rpc->kind, 3);  // CLIENT
    EXPECT_EQ(outer->kind, 1);
    EXPECT_EQ(rpc->attrs.at("rpc.service"), "s:kv");
    EXPECT_EQ(rpc->attrs.at("rpc.method"), "s:fetch");
    EXPECT_EQ(rpc->attrs.at("rpc.system"), "s:hero_tracing");
    EXPECT_EQ(inner->attrs.at("downstream"),
              std::string("s:00-") + kTrace + "-" + rpc->span_id + "-01");
    EXPECT_EQ(outer->attrs.at("count"), "i:3");
    EXPECT_EQ(outer->attrs.at("ratio"), "d:0.5");
    EXPECT_EQ(outer->attrs.at("enabled"), "b:true");
    EXPECT_EQ(outer->attrs.at("label"), "s:x");
    EXPECT_EQ(outer->status, 0);  // ok spans leave the status unset
    // The failed step: ERROR with an exception event.
    EXPECT_EQ(bad->status, 2);
    EXPECT_EQ(bad->status_message, "boom");
    ASSERT_EQ(bad->events.size(), 1u);
    EXPECT_EQ(bad->events[0].name, "exception");
    EXPECT_EQ(bad->events[0].attrs.at("exception.type"), "s:ValueError");
    EXPECT_EQ(bad->events[0].attrs.at("exception.message"), "s:boom");
    EXPECT_NE(bad->events[0].attrs.at("exception.stacktrace").find("raise ValueError"),
              std::string::npos);
    // The sandbox kill: ERROR with hero.kill_reason on the span that was open, and the root.
    EXPECT_EQ(doomed->status, 2);
    ASSERT_EQ(doomed->attrs.count("hero.kill_reason"), 1u);
    EXPECT_NE(doomed->attrs.at("hero.kill_reason").find("CPU limit"), std::string::npos);
    EXPECT_EQ(doomed->attrs.at("hero.status"), "s:killed");
    EXPECT_EQ(root->status, 2);
    EXPECT_EQ(root->attrs.count("hero.kill_reason"), 1u);
  }

  fs::path dir_;
};

TEST_F(OtelRunTest, ProtobufTraceHasTheTreeStatusesEventsAttributesAndLogs) {
  OtlpReceiver rx;
  ExpectFullTrace(rx, "http/protobuf", "application/x-protobuf");
}

TEST_F(OtelRunTest, JsonTraceHasTheTreeStatusesEventsAttributesAndLogs) {
  OtlpReceiver rx;
  ExpectFullTrace(rx, "http/json", "application/json");
}

TEST_F(OtelRunTest, CollectorDownOrSilentLeavesTheRunAloneAndExitIsBounded) {
  // Down: a port nobody listens on.
  int port;
  {
    OtlpReceiver gone;
    port = gone.port();
  }
  ::setenv("OTEL_EXPORTER_OTLP_ENDPOINT", ("http://127.0.0.1:" + std::to_string(port)).c_str(), 1);
  ::setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1500", 1);
  CliResult down = Run("");
  EXPECT_EQ(down.exit_code, 125) << down.out;
  EXPECT_NE(down.out.find("run 1 killed"), std::string::npos) << down.out;
  EXPECT_NE(down.out.find("otlp: export to"), std::string::npos) << "one warning, not silence";

  // Silent: accepts and never answers. Without the exit bound the CLI would retry 5 x 1.5 s.
  OtlpReceiver black_hole([](int) { return 200; }, /*black_hole=*/true);
  ::setenv("OTEL_EXPORTER_OTLP_ENDPOINT", black_hole.url().c_str(), 1);
  CliResult silent = Run("");
  EXPECT_EQ(silent.exit_code, 125) << silent.out;
  EXPECT_LT(silent.seconds, 6.0) << "the CLI waits at most OTEL_EXPORTER_OTLP_TIMEOUT at exit";
  EXPECT_FALSE(black_hole.requests().empty());
}

// The sandbox's environment is the SPEC §5 allowlist (escape case E03) unless the run is traced.
TEST_F(OtelRunTest, AnUntracedRunGetsNoTraceVariables) {
  std::ofstream(dir_ / "otel_demo.py") << "import os\n"
                                          "from hero_tracing import flow\n"
                                          "@flow(name='env')\n"
                                          "def env():\n"
                                          "    return {'keys': sorted(os.environ)}\n";
  CliResult r = Run("--json");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("\"PYTHONPATH\""), std::string::npos) << r.out;
  for (const char* v : {"TRACEPARENT", "TRACESTATE", "HERO_FLOW_SPAN_SEED"}) {
    EXPECT_EQ(r.out.find(v), std::string::npos) << v << " in " << r.out;
  }
  r = Run(std::string("--json --traceparent 00-") + kTrace + "-" + kParent + "-01");
  EXPECT_NE(r.out.find("\"TRACEPARENT\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"HERO_FLOW_SPAN_SEED\""), std::string::npos) << r.out;
}

TEST_F(OtelRunTest, BadTraceparentIsAUsageError) {
  CliResult r = Run("--traceparent 00-zz-01");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("traceparent"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace hero
