// listener_bench: supervisor CPU per span event through RunStream (frame + parse + assemble,
// persistence excluded), SPEC §10 target <= 0.5 us/event for the whole path incl. persist.
// Run: build-listener/bench/listener_bench --benchmark_min_time=1
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "span_listener/event_parser.h"
#include "span_listener/run_stream.h"

namespace hero::spans {
namespace {

// Counts what a store would persist; touches the row so nothing is optimized away.
class NullSink : public AssemblerSink {
 public:
  void OnSpan(const SpanRecord& span) override {
    bytes += span.tags_json.size() + span.name.size();
  }
  void OnLog(const LogRecord& log) override { bytes += log.text.size(); }
  void OnResult(std::string_view output_json) override { bytes += output_json.size(); }
  void OnCall(int64_t, std::string_view, std::string_view) override {}
  size_t bytes = 0;
};

// The SDK's line shapes (py/hero_tracing): a root, then steps with tags, one log line, an end
// with cpu/rss. 3 events per step.
std::string MakeStream(int steps, int64_t* events) {
  std::string out;
  int64_t ts = 1764570000000000;
  out += "{\"type\":\"hello\",\"v\":1,\"sdk\":\"0.1.0\",\"pid\":4242}\n";
  out +=
      "{\"type\":\"span_start\",\"id\":\"1\",\"parent\":null,\"name\":\"summarize\","
      "\"kind\":\"flow_root\",\"ts\":" +
      std::to_string(ts) + ",\"file\":\"flow.py\",\"line\":3,\"tags\":{\"url\":\"http://x\"}}\n";
  *events = 2;
  for (int i = 0; i < steps; ++i) {
    std::string id = std::to_string(i + 2);
    out += "{\"type\":\"span_start\",\"id\":\"" + id +
           "\",\"parent\":\"1\",\"name\":\"fetch_page\",\"kind\":\"step\",\"ts\":" +
           std::to_string(++ts) +
           ",\"file\":\"flow.py\",\"line\":12,\"tags\":{\"page\":" + std::to_string(i) +
           ",\"lang\":\"en\"}}\n";
    out += "{\"type\":\"span_log\",\"id\":\"" + id + "\",\"ts\":" + std::to_string(++ts) +
           ",\"stream\":\"stdout\",\"text\":\"fetched page " + std::to_string(i) + "\\n\"}\n";
    out += "{\"type\":\"span_end\",\"id\":\"" + id + "\",\"ts\":" + std::to_string(++ts) +
           ",\"status\":\"ok\",\"cpu_us\":85,\"rss_kb\":0}\n";
    *events += 3;
  }
  out += "{\"type\":\"span_end\",\"id\":\"1\",\"ts\":" + std::to_string(++ts) +
         ",\"status\":\"ok\",\"cpu_us\":850,\"rss_kb\":0}\n";
  out += "{\"type\":\"result\",\"output\":{\"summary\":\"...\"}}\n";
  *events += 2;
  return out;
}

void FeedChunks(RunStream& stream, const std::string& bytes, size_t chunk) {
  for (size_t i = 0; i < bytes.size(); i += chunk) {
    stream.Feed(std::string_view(bytes).substr(i, chunk));
  }
}

// Whole path per run of 10,000 steps (30,004 events), fed in 64 KiB socket reads.
void BM_RunStreamMixedEvents(benchmark::State& state) {
  int64_t events = 0;
  const std::string bytes = MakeStream(static_cast<int>(state.range(0)), &events);
  NullSink sink;
  for (auto _ : state) {
    RunStream stream(Limits(), "flow.py", &sink);
    FeedChunks(stream, bytes, 64 << 10);
    stream.Finish(EndOutcome::kExited, "");
    benchmark::DoNotOptimize(sink.bytes);
  }
  state.SetItemsProcessed(state.iterations() * events);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes.size()));
  state.counters["time_per_event"] =
      benchmark::Counter(static_cast<double>(state.iterations() * events),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_RunStreamMixedEvents)->Arg(10000)->Unit(benchmark::kMillisecond);

// Parse only (no framing/assembly): the simdjson share of the cost.
void BM_ParseOnly(benchmark::State& state) {
  int64_t events = 0;
  const std::string bytes = MakeStream(1000, &events);
  std::vector<std::string_view> lines;
  for (size_t pos = 0; pos < bytes.size();) {
    size_t nl = bytes.find('\n', pos);
    lines.emplace_back(bytes.data() + pos, nl - pos);
    pos = nl + 1;
  }
  EventParser parser;
  Event e;
  std::string err;
  for (auto _ : state) {
    for (auto l : lines) benchmark::DoNotOptimize(parser.Parse(l, &e, &err));
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(lines.size()));
}
BENCHMARK(BM_ParseOnly);

// A span_tag merge on a span that already has tags (parses both objects).
void BM_TagMerge(benchmark::State& state) {
  NullSink sink;
  RunStream stream(Limits(), "flow.py", &sink);
  stream.Feed(
      "{\"type\":\"span_start\",\"id\":\"1\",\"parent\":null,\"name\":\"r\",\"kind\":"
      "\"flow_root\",\"ts\":1,\"tags\":{\"url\":\"http://x\",\"n\":1}}\n");
  const std::string line =
      "{\"type\":\"span_tag\",\"id\":\"1\",\"tags\":{\"n\":2,\"words\":120}}\n";
  for (auto _ : state) stream.Feed(line);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TagMerge);

// Memory: 1,000,000 closed spans in one run (the root still open); reports heap bytes per span
// (mallinfo2 delta). Target <= 64 (closed spans drop their data); was 189 with full slots.
void BM_MillionSpansMemory(benchmark::State& state) {
  int64_t events = 0;
  const std::string bytes = MakeStream(999'999, &events);
  for (auto _ : state) {
    NullSink sink;
    size_t before = mallinfo2().uordblks;
    auto stream = std::make_unique<RunStream>(Limits(), "flow.py", &sink);
    FeedChunks(*stream, bytes, 64 << 10);
    size_t after = mallinfo2().uordblks;
    state.counters["heap_bytes_per_span"] =
        static_cast<double>(after - before) / static_cast<double>(stream->assembler().span_count());
    state.counters["approx_bytes_per_span"] =
        static_cast<double>(stream->assembler().ApproxSpanBytes()) /
        static_cast<double>(stream->assembler().span_count());
    stream->Finish(EndOutcome::kExited, "");
  }
  state.SetItemsProcessed(state.iterations() * events);
}
BENCHMARK(BM_MillionSpansMemory)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace hero::spans

BENCHMARK_MAIN();
