// OTLP exporter cost per span on its own thread (docs/PERFORMANCE.md, docs/OTEL.md): mapping
// + encoding a 512-span batch of SDK-shaped spans, protobuf and JSON.
#include <benchmark/benchmark.h>

#include "supervisor/otel/otlp_encode.h"

namespace {

std::vector<hero::otel::SpanItem> Batch(bool tags) {
  auto run = std::make_shared<hero::otel::RunInfo>();
  run->trace_id = hero::otel::NewTraceContext().trace_id;
  run->run_id = 42;
  run->flow = "flood";
  run->profile = "trusted";
  std::vector<hero::otel::SpanItem> v(512);
  for (size_t i = 0; i < v.size(); ++i) {
    auto& s = v[i];
    s.run = run;
    s.span_id = i + 1;
    s.parent_span_id = 1000;
    s.name = "s";
    s.kind = "step";
    s.status = "ok";
    s.file = "/home/user/flows/flood.py";
    s.line = 7;
    s.start_us = 1'700'000'000'000'000 + static_cast<int64_t>(i);
    s.end_us = s.start_us + 3;
    s.tags_json = tags ? R"({"i":12,"url":"http://example.com/x","ok":true})" : "{}";
  }
  return v;
}

void Run(benchmark::State& state, bool json, bool tags) {
  auto v = Batch(tags);
  std::vector<const hero::otel::SpanItem*> p;
  for (auto& s : v) p.push_back(&s);
  hero::otel::ResourceInfo r;
  size_t bytes = 0;
  for (auto _ : state) {
    std::string body = json ? hero::otel::EncodeTracesJson(r, p, nullptr)
                            : hero::otel::EncodeTracesProto(r, p, nullptr);
    bytes = body.size();
    benchmark::DoNotOptimize(body);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(p.size()));
  state.counters["bytes_per_span"] = static_cast<double>(bytes) / static_cast<double>(p.size());
}

void BM_OtlpEncodeProto(benchmark::State& s) { Run(s, false, false); }
void BM_OtlpEncodeProtoTags(benchmark::State& s) { Run(s, false, true); }
void BM_OtlpEncodeJson(benchmark::State& s) { Run(s, true, false); }
BENCHMARK(BM_OtlpEncodeProto);
BENCHMARK(BM_OtlpEncodeProtoTags);
BENCHMARK(BM_OtlpEncodeJson);

}  // namespace

BENCHMARK_MAIN();
