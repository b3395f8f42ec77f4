// otel/ unit tests (config, trace context, mapping) and exporter tests against the in-process
// OtlpReceiver (retries, non-retryable statuses, drop-oldest, bounded shutdown).
#include <gtest/gtest.h>

#include <map>

#include "supervisor/otel/otel_config.h"
#include "supervisor/otel/otlp_encode.h"
#include "supervisor/otel/otlp_exporter.h"
#include "supervisor/otel/trace_context.h"
#include "tests/otel/otlp_decode.h"
#include "tests/otel/otlp_receiver.h"

namespace hero::otel {
namespace {

using std::chrono::milliseconds;
using Steady = std::chrono::steady_clock;

OtelConfig FromEnv(std::map<std::string, std::string> env) {
  return OtelConfigFromEnv([&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

TEST(OtelConfigTest, OffWhenNoEndpointIsSet) {
  EXPECT_FALSE(FromEnv({}).enabled);
  EXPECT_FALSE(FromEnv({{"OTEL_SERVICE_NAME", "x"}}).enabled);
}

TEST(OtelConfigTest, BaseEndpointGetsSignalPathsAndSpecificOnesAreUsedAsIs) {
  OtelConfig c = FromEnv({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/"}});
  EXPECT_TRUE(c.enabled);
  EXPECT_EQ(c.traces_url, "http://c:4318/v1/traces");
  EXPECT_EQ(c.logs_url, "http://c:4318/v1/logs");
  EXPECT_FALSE(c.json);
  c = FromEnv({{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:1/custom"}});
  EXPECT_TRUE(c.enabled);
  EXPECT_EQ(c.traces_url, "http://t:1/custom");
  EXPECT_EQ(c.logs_url, "");  // no base endpoint: logs go out as span events
}

TEST(OtelConfigTest, ReadsProtocolHeadersTimeoutResourceAndServiceName) {
  OtelConfig c =
      FromEnv({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"},
               {"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"},
               {"OTEL_EXPORTER_OTLP_HEADERS", "api-key=a%20b, x-team = ops,bad"},
               {"OTEL_EXPORTER_OTLP_TIMEOUT", "2500"},
               {"OTEL_RESOURCE_ATTRIBUTES", "service.name=fromattrs,deployment.environment=prod"},
               {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "4096"}});
  EXPECT_TRUE(c.json);
  ASSERT_EQ(c.headers.size(), 2u);
  EXPECT_EQ(c.headers[0], (std::pair<std::string, std::string>{"api-key", "a b"}));
  EXPECT_EQ(c.headers[1], (std::pair<std::string, std::string>{"x-team", "ops"}));
  EXPECT_EQ(c.timeout, milliseconds(2500));
  EXPECT_EQ(c.service_name, "fromattrs");
  ASSERT_EQ(c.resource.size(), 1u);
  EXPECT_EQ(c.resource[0].first, "deployment.environment");
  EXPECT_EQ(c.max_batch, 512u);  // the issue's bound, whatever the variable says
  EXPECT_EQ(c.warnings.size(), 1u) << "the header member without '=' is named";
  c = FromEnv({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"},
               {"OTEL_RESOURCE_ATTRIBUTES", "service.name=fromattrs"},
               {"OTEL_SERVICE_NAME", "svc"}});
  EXPECT_EQ(c.service_name, "svc");
}

TEST(OtelConfigTest, DisabledByTheSdkSwitchTheTracesExporterOrAnUnsupportedProtocol) {
  EXPECT_FALSE(FromEnv({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c"}, {"OTEL_SDK_DISABLED", "TRUE"}})
                   .enabled);
  EXPECT_FALSE(
      FromEnv({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c"}, {"OTEL_TRACES_EXPORTER", "none"}})
          .enabled);
  OtelConfig c = FromEnv(
      {{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c"}, {"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"}});
  EXPECT_FALSE(c.enabled);
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_NE(c.warnings[0].find("grpc"), std::string::npos);
  c = FromEnv({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c"}, {"OTEL_LOGS_EXPORTER", "none"}});
  EXPECT_TRUE(c.enabled);
  EXPECT_EQ(c.logs_url, "");
}

TEST(TraceContextTest, ParsesAndFormatsW3cTraceparent) {
  auto ctx = ParseTraceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                              "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
  ASSERT_TRUE(ctx.ok()) << ctx.status().message();
  EXPECT_EQ(ctx->trace_id.Hex(), "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(SpanIdHex(ctx->parent_span_id), "b7ad6b7169203331");
  EXPECT_EQ(ctx->flags, 1);
  EXPECT_EQ(ctx->trace_state, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
  EXPECT_EQ(FormatTraceparent(ctx->trace_id, ctx->parent_span_id, 1),
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  // A later version may carry more fields; they are ignored.
  EXPECT_TRUE(
      ParseTraceparent("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00-extra", "").ok());
}

TEST(TraceContextTest, RejectsMalformedTraceparentWithAClearError) {
  for (const char* bad : {"", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
                          "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
                          "00-00000000000000000000000000000000-b7ad6b7169203331-01",
                          "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
                          "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                          "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-x"}) {
    auto r = ParseTraceparent(bad, "");
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find("traceparent"), std::string::npos);
    }
  }
  // An invalid tracestate is dropped, not an error (W3C).
  auto ctx =
      ParseTraceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "BAD KEY=1");
  ASSERT_TRUE(ctx.ok());
  EXPECT_EQ(ctx->trace_state, "");
}

TEST(TraceContextTest, SpanIdsMatchThePythonSdk) {
  // Values printed by py/hero_tracing/_otel.py span_id() for the same inputs.
  EXPECT_EQ(SpanIdHex(SpanIdFor(0x0123456789abcdefULL, "")), "a650b89455c9f4a0");
  EXPECT_EQ(SpanIdHex(SpanIdFor(0x0123456789abcdefULL, "42")), "924a4eb30a79847b");
  EXPECT_EQ(SpanIdHex(SpanIdFor(0, "\xc3\xa9")), "233403617480019e");
  TraceContext a = NewTraceContext(), b = NewTraceContext();
  EXPECT_TRUE(a.trace_id.valid());
  EXPECT_FALSE(a.trace_id == b.trace_id);
}

std::shared_ptr<RunInfo> Info() {
  auto r = std::make_shared<RunInfo>();
  r->trace_id = NewTraceContext().trace_id;
  r->run_id = 7;
  r->flow = "f";
  r->flow_version = 3;
  r->profile = "untrusted";
  return r;
}

TEST(OtlpMappingTest, TagsBecomeTypedAttributesAndRunAttributesComeFirst) {
  SpanItem s;
  s.run = Info();
  s.kind = "rpc";
  s.status = "killed";
  s.error = "CPU limit 2 s exceeded";
  s.rpc_service = "kv";
  s.rpc_method = "get";
  s.cpu_us = 10;
  s.tags_json =
      R"({"n":3,"x":0.5,"ok":true,"s":"hi","arr":[1,2],"mixed":[1,"a"],"obj":{"k":1},"hero.run_id":99,"nul":null})";
  std::map<std::string, AttrValue> by_key;
  for (auto& a : SpanAttributes(s)) {
    EXPECT_TRUE(by_key.emplace(std::string(a.key), a.value).second) << "duplicate key " << a.key;
  }
  EXPECT_EQ(by_key["hero.run_id"].i, 7);  // the tag of the same name does not override it
  EXPECT_EQ(by_key["hero.flow.version"].i, 3);
  EXPECT_EQ(by_key["hero.profile"].s, "untrusted");
  EXPECT_EQ(by_key["rpc.system"].s, "hero_tracing");
  EXPECT_EQ(by_key["rpc.service"].s, "kv");
  EXPECT_EQ(by_key["rpc.method"].s, "get");
  EXPECT_EQ(by_key["hero.kill_reason"].s, "CPU limit 2 s exceeded");
  EXPECT_EQ(by_key["hero.cpu_time_us"].i, 10);
  EXPECT_EQ(by_key["n"].type, AttrValue::Type::kInt);
  EXPECT_EQ(by_key["x"].type, AttrValue::Type::kDouble);
  EXPECT_EQ(by_key["ok"].type, AttrValue::Type::kBool);
  EXPECT_EQ(by_key["s"].s, "hi");
  ASSERT_EQ(by_key["arr"].type, AttrValue::Type::kArray);
  EXPECT_EQ(by_key["arr"].array.size(), 2u);
  EXPECT_EQ(by_key["mixed"].text(), R"([1,"a"])");
  EXPECT_EQ(by_key["obj"].text(), R"({"k":1})");
  EXPECT_EQ(by_key["nul"].text(), "null");
}

TEST(OtlpMappingTest, ProtobufAndJsonEncodeTheSameSpan) {
  ResourceInfo res;
  res.service_name = "svc";
  res.instance_id = "node-1";
  SpanItem s;
  s.run = Info();
  s.span_id = 0x1122334455667788ULL;
  s.parent_span_id = 0x0102030405060708ULL;
  s.name = "step";
  s.kind = "step";
  s.status = "failed";
  s.error = "boom";
  s.error_type = "ValueError";
  s.traceback = "Traceback ...";
  s.start_us = 1'000;
  s.end_us = 2'000;
  std::vector<const SpanItem*> spans{&s};
  testing::Decoded p = testing::DecodeAll(
      {{"/v1/traces", "application/x-protobuf", EncodeTracesProto(res, spans, nullptr)}});
  testing::Decoded j = testing::DecodeAll(
      {{"/v1/traces", "application/json", EncodeTracesJson(res, spans, nullptr)}});
  for (const testing::Decoded* d : {&p, &j}) {
    ASSERT_EQ(d->bad, 0);
    ASSERT_EQ(d->spans.size(), 1u);
    const auto& x = d->spans[0];
    EXPECT_EQ(x.trace_id, s.run->trace_id.Hex());
    EXPECT_EQ(x.span_id, "1122334455667788");
    EXPECT_EQ(x.parent, "0102030405060708");
    EXPECT_EQ(x.kind, 1);
    EXPECT_EQ(x.status, 2);
    EXPECT_EQ(x.status_message, "boom");
    EXPECT_EQ(x.start_ns, 1'000'000u);
    EXPECT_EQ(x.end_ns, 2'000'000u);
    ASSERT_EQ(x.events.size(), 1u);
    EXPECT_EQ(x.events[0].name, "exception");
    EXPECT_EQ(x.events[0].attrs.at("exception.type"), "s:ValueError");
    EXPECT_EQ(x.events[0].attrs.at("exception.message"), "s:boom");
    EXPECT_EQ(x.events[0].attrs.at("exception.stacktrace"), "s:Traceback ...");
    EXPECT_EQ(d->resource.at("service.name"), "s:svc");
    EXPECT_EQ(d->resource.at("service.instance.id"), "s:node-1");
  }
}

OtelConfig TestConfig(const testing::OtlpReceiver& r) {
  OtelConfig c = FromEnv({{"OTEL_EXPORTER_OTLP_ENDPOINT", r.url()}});
  c.schedule_delay = milliseconds(20);
  return c;
}

SpanItem Span(std::shared_ptr<RunInfo> run, uint64_t id) {
  SpanItem s;
  s.run = std::move(run);
  s.span_id = id;
  s.name = "s" + std::to_string(id);
  s.kind = "step";
  s.status = "ok";
  return s;
}

TEST(OtlpExporterTest, RetriesOn503ThenDelivers) {
  testing::OtlpReceiver rx([](int i) { return i < 2 ? 503 : 200; });
  OtlpExporter ex(TestConfig(rx), ResourceInfo{});
  auto run = Info();
  for (uint64_t i = 1; i <= 3; ++i) ex.Add(Span(run, i));
  ASSERT_TRUE(ex.Flush(Steady::now() + std::chrono::seconds(20)));
  ExporterStats s = ex.stats();
  EXPECT_EQ(s.exported_spans, 3);
  EXPECT_EQ(s.retries, 2);
  EXPECT_EQ(s.failed_batches, 0);
  EXPECT_EQ(rx.requests().size(), 3u);  // the same body three times
  EXPECT_EQ(rx.requests()[0].body, rx.requests()[2].body);
  EXPECT_NE(ex.MetricsText().find("hero_otlp_exported_spans_total 3\n"), std::string::npos);
}

// Regression: the thread slept on an empty queue until a full batch or a Flush, so a daemon
// exported nothing for runs of fewer than 512 spans.
TEST(OtlpExporterTest, ASingleSpanGoesOutAfterTheScheduleDelayWithoutFlush) {
  testing::OtlpReceiver rx;
  OtlpExporter ex(TestConfig(rx), ResourceInfo{});
  ex.Add(Span(Info(), 1));
  EXPECT_TRUE(rx.WaitFor([](auto& r) { return !r.empty(); }, std::chrono::seconds(20)));
}

TEST(OtlpExporterTest, NonRetryableStatusFailsTheBatchAtOnce) {
  testing::OtlpReceiver rx([](int) { return 400; });
  OtlpExporter ex(TestConfig(rx), ResourceInfo{});
  auto run = Info();
  for (uint64_t i = 1; i <= 5; ++i) ex.Add(Span(run, i));
  ASSERT_TRUE(ex.Flush(Steady::now() + std::chrono::seconds(20)));
  ExporterStats s = ex.stats();
  EXPECT_EQ(s.exported_spans, 0);
  EXPECT_EQ(s.dropped_spans, 5);
  EXPECT_EQ(s.failed_batches, 1);
  EXPECT_EQ(s.retries, 0);
  EXPECT_NE(ex.MetricsText().find("hero_otlp_failed_batches_total 1\n"), std::string::npos);
}

TEST(OtlpExporterTest, BatchesHoldAtMost512Spans) {
  testing::OtlpReceiver rx;
  OtlpExporter ex(TestConfig(rx), ResourceInfo{});
  auto run = Info();
  for (uint64_t i = 1; i <= 1300; ++i) ex.Add(Span(run, i));
  ASSERT_TRUE(ex.Flush(Steady::now() + std::chrono::seconds(20)));
  EXPECT_EQ(ex.stats().exported_spans, 1300);
  size_t total = 0;
  for (const auto& r : rx.requests()) {
    testing::Decoded d = testing::DecodeAll({r});
    EXPECT_LE(d.spans.size(), 512u);
    total += d.spans.size();
  }
  EXPECT_EQ(total, 1300u);
}

TEST(OtlpExporterTest, FullQueueDropsOldestAndAnUnansweringCollectorCannotHoldShutdown) {
  testing::OtlpReceiver rx([](int) { return 200; }, /*black_hole=*/true);
  OtelConfig c = TestConfig(rx);
  c.max_queue = 10;
  c.max_batch = 5;
  c.timeout = milliseconds(300);
  OtlpExporter ex(c, ResourceInfo{});
  auto run = Info();
  // The first batch hangs in the black hole; the queue keeps the newest 10 of the rest.
  ex.Add(Span(run, 1));
  ASSERT_TRUE(rx.WaitFor([](auto& r) { return !r.empty(); }, std::chrono::seconds(10)));
  for (uint64_t i = 2; i <= 100; ++i) ex.Add(Span(run, i));
  EXPECT_EQ(ex.stats().dropped_spans, 89);
  EXPECT_EQ(ex.stats().queued, 10);
  ex.Shutdown(Steady::now() + milliseconds(500));
  ExporterStats s = ex.stats();
  EXPECT_EQ(s.exported_spans, 0);
  EXPECT_EQ(s.dropped_spans, 100) << "every span is either exported or counted";
  EXPECT_EQ(s.queued, 0);
}

TEST(OtlpExporterTest, WithoutALogsEndpointLogsBecomeEventsOfTheirSpan) {
  testing::OtlpReceiver rx;
  OtelConfig c = FromEnv({{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", rx.url() + "/v1/traces"},
                          {"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"}});
  c.schedule_delay = milliseconds(20);
  OtlpExporter ex(c, ResourceInfo{});
  auto run = Info();
  LogItem l;
  l.run = run;
  l.span_id = 5;
  l.ts_us = 10;
  l.stream = "stdout";
  l.text = "hello\n";
  ex.Add(l);
  ex.Add(Span(run, 5));
  ASSERT_TRUE(ex.Flush(Steady::now() + std::chrono::seconds(20)));
  testing::Decoded d = testing::DecodeAll(rx.requests());
  ASSERT_EQ(d.spans.size(), 1u);
  EXPECT_TRUE(d.logs.empty());
  ASSERT_EQ(d.spans[0].events.size(), 1u);
  EXPECT_EQ(d.spans[0].events[0].name, "log");
  EXPECT_EQ(d.spans[0].events[0].attrs.at("message"), "s:hello\n");
  EXPECT_EQ(d.spans[0].events[0].attrs.at("log.iostream"), "s:stdout");
}

}  // namespace
}  // namespace hero::otel
