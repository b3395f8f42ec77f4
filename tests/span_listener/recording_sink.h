// RecordingSink: an AssemblerSink for tests that keeps every row and the latest row per seq.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "span_listener/span_assembler.h"

namespace hero::spans::testing {

struct CallRecord {
  int64_t req;
  std::string method, params_json;
};

class RecordingSink : public AssemblerSink {
 public:
  void OnSpan(const SpanRecord& span) override {
    rows.push_back(span);
    latest[span.seq.value] = span;
  }
  void OnLog(const LogRecord& log) override { logs.push_back(log); }
  void OnResult(std::string_view output_json) override { results.emplace_back(output_json); }
  void OnCall(int64_t req, std::string_view method, std::string_view params_json) override {
    calls.push_back({req, std::string(method), std::string(params_json)});
  }
  void OnLimit(std::string_view limit, std::string_view error) override {
    limits.push_back(std::string(limit) + "|" + std::string(error));
  }
  void OnHello(int64_t v, std::string_view sdk, int64_t pid) override {
    hello_v = v;
    hello_sdk = std::string(sdk);
    hello_pid = pid;
  }

  // Latest row of the span with this wire id (nullptr if none).
  const SpanRecord* ById(const std::string& id) const {
    for (const auto& [seq, row] : latest) {
      if (row.span_id == id) return &row;
    }
    return nullptr;
  }
  std::vector<const SpanRecord*> Roots() const {
    std::vector<const SpanRecord*> out;
    for (const auto& [seq, row] : latest) {
      if (row.parent_id.empty() && !row.parent_seq.valid()) out.push_back(&row);
    }
    return out;
  }
  int RunningCount() const {
    int n = 0;
    for (const auto& [seq, row] : latest) n += row.status == "running";
    return n;
  }
  std::vector<const SpanRecord*> ChildrenOf(int64_t seq) const {
    std::vector<const SpanRecord*> out;
    for (const auto& [s, row] : latest) {
      if (row.parent_seq.valid() && row.parent_seq.value == seq) out.push_back(&row);
    }
    return out;
  }

  std::vector<SpanRecord> rows;
  std::map<int64_t, SpanRecord> latest;
  std::vector<LogRecord> logs;
  std::vector<std::string> results;
  std::vector<CallRecord> calls;
  std::vector<std::string> limits;  // "name|error" per `limit` event
  int64_t hello_v = 0, hello_pid = 0;
  std::string hello_sdk;
};

}  // namespace hero::spans::testing
