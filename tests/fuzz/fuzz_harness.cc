// Span-stream fuzz harness. Every check appends to a violation string instead of aborting so
// the replay test can print which file broke which rule; the fuzzer aborts on the first one.
#include "tests/fuzz/fuzz_harness.h"

#include <simdjson.h>

#include <algorithm>
#include <map>
#include <memory>
#include <vector>

#include "span_listener/run_stream.h"

namespace hero::fuzz {
namespace {

using spans::EndOutcome;
using spans::LogRecord;
using spans::SpanRecord;

constexpr int64_t kMaxSpansMenu[] = {1'000'000, 1, 3, 16};
constexpr size_t kMaxLineMenu[] = {1 << 20, 16, 256, 4096};
constexpr size_t kMaxTagMenu[] = {64 << 10, 24};
constexpr int64_t kMaxLogMenu[] = {64LL << 20, 32};
constexpr EndOutcome kOutcomes[] = {EndOutcome::kExited, EndOutcome::kTimedOut,
                                    EndOutcome::kCancelled, EndOutcome::kKilled};

bool IsJson(simdjson::dom::parser& parser, std::string_view text, bool want_object) {
  simdjson::padded_string padded(text);
  simdjson::dom::element e;
  if (parser.parse(padded).get(e) != simdjson::SUCCESS) return false;
  return !want_object || e.type() == simdjson::dom::element_type::OBJECT;
}

bool KnownStatus(std::string_view s) {
  return s == "running" || s == "ok" || s == "failed" || s == "cancelled" || s == "timed_out" ||
         s == "killed";
}

bool KnownKind(std::string_view k) {
  return k == "flow_root" || k == "step" || k == "rpc" || k == "subflow" || k == "other";
}

void AppendRow(std::string* t, const SpanRecord& r) {
  auto field = [t](std::string_view v) {
    t->append(std::to_string(v.size())).push_back(':');
    t->append(v);
  };
  t->append("S");
  for (int64_t v : {r.seq.value, r.parent_seq.value, r.start_us, r.end_us, r.line, r.cpu_us,
                    r.rss_kb, r.child_run_id, int64_t{r.orphan}}) {
    t->append(std::to_string(v)).push_back(',');
  }
  for (std::string_view v :
       {std::string_view(r.span_id), std::string_view(r.parent_id), std::string_view(r.name),
        std::string_view(r.kind), std::string_view(r.status), std::string_view(r.tags_json),
        std::string_view(r.error), std::string_view(r.error_type), std::string_view(r.traceback),
        std::string_view(r.file), std::string_view(r.rpc_service),
        std::string_view(r.rpc_method)}) {
    field(v);
  }
  t->push_back('\n');
}

// Records a transcript of every callback and checks the per-callback invariants.
class CheckingSink final : public spans::AssemblerSink {
 public:
  CheckingSink(const spans::Limits& limits, std::string* violation)
      : limits_(limits), violation_(violation) {}

  void OnSpan(const SpanRecord& r) override {
    ++callbacks;
    AppendRow(&transcript, r);
    int64_t seq = r.seq.value;
    if (seq < 0 || seq > static_cast<int64_t>(latest.size())) {
      return Fail("span seq " + std::to_string(seq) + " out of order (seen " +
                  std::to_string(latest.size()) + ")");
    }
    if (seq == static_cast<int64_t>(latest.size())) {
      latest.push_back(r);
    } else {
      // A span that ended changes only when it gets its parent: the parent arrives (a held
      // span), or at Finish the root adopts it (orphan). Late events for it are ignored.
      const SpanRecord& before = latest[static_cast<size_t>(seq)];
      bool attached = !before.parent_seq.valid() && r.parent_seq.valid();
      if (before.status != "running" && !(finishing ? r.orphan : attached)) {
        Fail("closed span '" + r.span_id + "' reported again without getting its parent");
      }
      latest[static_cast<size_t>(seq)] = r;
    }
    if (!KnownStatus(r.status)) Fail("unknown span status '" + r.status + "'");
    if (!KnownKind(r.kind)) Fail("unknown span kind '" + r.kind + "'");
    if (r.status != "running" && r.end_us < r.start_us) Fail("span ends before it starts");
    if (r.status == "running" && r.end_us != 0) Fail("running span has end_us");
    if (r.tags_json != "{}" && r.tags_json.size() > limits_.max_tag_bytes) {
      Fail("tags_json over max_tag_bytes");
    }
    if (!IsJson(parser_, r.tags_json, /*want_object=*/true)) Fail("tags_json is not an object");
    if (r.parent_seq.valid() &&
        (r.parent_seq.value >= static_cast<int64_t>(latest.size()) || r.parent_seq.value == seq)) {
      Fail("parent seq names itself or a span never reported");
    }
  }

  void OnLog(const LogRecord& l) override {
    ++callbacks;
    transcript.append("L").append(std::to_string(l.span_seq.value)).push_back(',');
    transcript.append(std::to_string(l.ts_us)).append(l.stream).append(":").append(l.text);
    transcript.push_back('\n');
    log_bytes += static_cast<int64_t>(l.text.size());
    if (log_bytes > limits_.max_log_bytes) Fail("log text over max_log_bytes");
    if (!l.span_seq.valid() || l.span_seq.value >= static_cast<int64_t>(latest.size())) {
      Fail("log for a span never reported");
    }
    if (l.stream != "stdout" && l.stream != "stderr" && l.stream != "log") {
      Fail("unknown log stream '" + l.stream + "'");
    }
  }

  void OnResult(std::string_view output_json) override {
    ++callbacks;
    transcript.append("R").append(output_json).push_back('\n');
    if (!IsJson(parser_, output_json, false)) Fail("result output is not JSON");
  }

  void OnCall(int64_t req, std::string_view method, std::string_view params_json) override {
    ++callbacks;
    transcript.append("C").append(std::to_string(req)).append(method).append(params_json);
    transcript.push_back('\n');
    if (!IsJson(parser_, params_json, true)) Fail("call params are not an object");
  }

  void OnHello(int64_t v, std::string_view sdk, int64_t pid) override {
    ++callbacks;
    transcript.append("H").append(std::to_string(v)).append(sdk).append(std::to_string(pid));
    transcript.push_back('\n');
  }

  void Fail(const std::string& what) {
    if (violation_->empty()) *violation_ = what;
  }

  std::string transcript;
  std::vector<SpanRecord> latest;  // by seq
  bool finishing = false;          // set by the driver just before Finish
  int64_t log_bytes = 0;
  int64_t callbacks = 0;

 private:
  spans::Limits limits_;
  std::string* violation_;
  simdjson::dom::parser parser_;
};

class SplitRng {
 public:
  explicit SplitRng(uint32_t seed) : state_(seed * 2654435761u + 0x9E3779B9u) {}
  uint32_t Next() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 17;
    state_ ^= state_ << 5;
    return state_;
  }
  // 1 .. 2^k with k spread over 0..11: single bytes as well as whole lines.
  size_t ChunkLength() {
    uint32_t r = Next();
    return 1 + (r >> 8) % (size_t{1} << (r % 12));
  }

 private:
  uint32_t state_;
};

void CheckFinished(const spans::RunStream& stream, const CheckingSink& sink,
                   const spans::Limits& limits, std::string* violation) {
  auto fail = [violation](const std::string& what) {
    if (violation->empty()) *violation = what;
  };
  const auto& latest = sink.latest;
  const int64_t n = static_cast<int64_t>(latest.size());
  if (n != stream.assembler().span_count()) {
    fail("span_count " + std::to_string(stream.assembler().span_count()) + " but " +
         std::to_string(n) + " spans reported");
  }
  if (n > limits.max_spans + 1) fail("span_count over max_spans + 1");
  int roots = 0;
  for (const SpanRecord& r : latest) {
    if (r.status == "running") fail("span '" + r.span_id + "' still running after Finish");
    if (!r.parent_seq.valid()) {
      ++roots;
      if (!r.parent_id.empty()) fail("root has a parent id");
    } else if (r.parent_seq.value >= n) {
      fail("parent seq out of range");
    }
  }
  if (roots != 1) fail(std::to_string(roots) + " roots after Finish");
  // Every parent chain reaches the root within n hops (no cycles).
  for (const SpanRecord& r : latest) {
    int64_t at = r.seq.value;
    int64_t hops = 0;
    while (at >= 0 && at < n && latest[static_cast<size_t>(at)].parent_seq.valid() && hops <= n) {
      at = latest[static_cast<size_t>(at)].parent_seq.value;
      ++hops;
    }
    if (hops > n) {
      fail("parent cycle through span '" + r.span_id + "'");
      break;
    }
  }
  const spans::Stats& st = stream.stats();
  if (st.lines != st.events + st.malformed_lines + st.unknown_type_lines) {
    fail("lines != events + malformed + unknown");
  }
  if (st.diagnostics.size() > 5) fail("more than 5 diagnostics");
  for (const std::string& d : st.diagnostics) {
    if (d.size() > 200) fail("diagnostic over 200 bytes");
    if (!simdjson::validate_utf8(d.data(), d.size())) fail("diagnostic is not valid UTF-8");
  }
  if (st.dropped_spans > 0 && n < limits.max_spans) fail("spans dropped below the cap");
}

struct RunResult {
  std::string transcript;
};

void fail_held(std::string* violation) {
  if (violation->empty()) *violation = "span data still held after Finish";
}

RunResult RunOnce(const FuzzConfig& cfg, std::string_view data, bool split, EndOutcome outcome,
                  bool pipe_logs, std::string* violation) {
  CheckingSink sink(cfg.limits, violation);
  spans::RunStream stream(cfg.limits, "fuzz_flow", &sink);
  if (!split) {
    stream.Feed(data);
  } else {
    SplitRng rng(cfg.split_seed);
    size_t pos = 0;
    int64_t ts = 1;
    while (pos < data.size()) {
      size_t len = std::min(rng.ChunkLength(), data.size() - pos);
      stream.Feed(data.substr(pos, len));
      pos += len;
      if (pipe_logs && (rng.Next() & 3) == 0) {
        stream.assembler().AddPipeLog((rng.Next() & 1) ? "stdout" : "stderr", ts++, "pipe\n");
      }
    }
  }
  const std::string_view reason = outcome == EndOutcome::kExited ? "" : "fuzz reason";
  sink.finishing = true;
  stream.Finish(outcome, reason, cfg.now_us);
  if (stream.assembler().held_spans() != 0) fail_held(violation);
  CheckFinished(stream, sink, cfg.limits, violation);
  // After Finish nothing more may change.
  int64_t before = sink.callbacks;
  stream.Feed(data);
  stream.Feed(
      "\n{\"type\":\"span_start\",\"id\":\"late\",\"parent\":null,\"name\":\"x\","
      "\"kind\":\"step\",\"ts\":1}\n");
  stream.Finish(outcome, reason, cfg.now_us);
  if (sink.callbacks != before && violation->empty()) *violation = "Feed after Finish reported";
  return RunResult{std::move(sink.transcript)};
}

}  // namespace

FuzzConfig DecodeInput(std::string_view input, std::string_view* stream) {
  FuzzConfig cfg;
  if (input.size() < kHeaderBytes) {
    *stream = input;
    return cfg;
  }
  auto b = [&](size_t i) { return static_cast<uint8_t>(input[i]); };
  uint8_t l = b(0), r = b(1);
  cfg.limits.max_spans = kMaxSpansMenu[l & 3];
  cfg.limits.max_line_bytes = kMaxLineMenu[(l >> 2) & 3];
  cfg.limits.max_tag_bytes = kMaxTagMenu[(l >> 4) & 1];
  cfg.limits.max_log_bytes = kMaxLogMenu[(l >> 5) & 1];
  cfg.pipe_logs = (l >> 6) & 1;
  cfg.outcome = kOutcomes[r & 3];
  cfg.now_us = (r >> 2) & 1 ? 1'700'000'000'000'500 : 0;
  cfg.split_seed = static_cast<uint32_t>(b(2)) | static_cast<uint32_t>(b(3)) << 8;
  *stream = input.substr(kHeaderBytes);
  return cfg;
}

std::string EncodeInput(uint8_t limits_byte, uint8_t run_byte, uint16_t split_seed,
                        std::string_view stream) {
  std::string out;
  out.push_back(static_cast<char>(limits_byte));
  out.push_back(static_cast<char>(run_byte));
  out.push_back(static_cast<char>(split_seed & 0xFF));
  out.push_back(static_cast<char>(split_seed >> 8));
  out.append(stream);
  return out;
}

std::string CheckSpanStream(std::string_view input) {
  std::string_view data;
  FuzzConfig cfg = DecodeInput(input, &data);
  std::string violation;
  auto where = [&](const char* run) {
    if (!violation.empty() && violation.find(" [") == std::string::npos) {
      violation += std::string(" [") + run + "]";
    }
  };
  RunResult whole = RunOnce(cfg, data, /*split=*/false, cfg.outcome, false, &violation);
  where("unsplit");
  RunResult split = RunOnce(cfg, data, /*split=*/true, cfg.outcome, false, &violation);
  where("split");
  if (violation.empty() && whole.transcript != split.transcript) {
    violation = "split and unsplit feeds disagree";
  }
  for (EndOutcome o : kOutcomes) {
    if (o == cfg.outcome) continue;
    RunOnce(cfg, data, /*split=*/true, o, cfg.pipe_logs, &violation);
    where("outcome");
  }
  return violation;
}

}  // namespace hero::fuzz
