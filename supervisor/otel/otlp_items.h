// What core hands the OTLP exporter: one ended span or one log line of a run, as plain values
// (copies; nothing points into the caller's memory). Thread: built on the loop, read on the
// exporter thread. Depends on nothing but trace_context.h.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "supervisor/otel/trace_context.h"

namespace hero::otel {

// Shared by every item of one run (one allocation per run, not per span).
struct RunInfo {
  TraceId trace_id;
  std::string trace_state;
  uint8_t flags = 1;
  int64_t run_id = 0;
  std::string flow;
  int64_t flow_version = 0;
  std::string profile;  // trusted, untrusted
  int64_t parent_run_id = 0;
};

// One span that has ended and whose place in the tree is final (see docs/OTEL.md).
struct SpanItem {
  std::shared_ptr<const RunInfo> run;
  uint64_t span_id = 0;
  uint64_t parent_span_id = 0;  // 0 = a trace root
  std::string name, kind;       // kind as the span tree has it: flow_root, step, rpc, ...
  std::string status;           // ok, failed, cancelled, timed_out, killed
  std::string error, error_type, traceback;
  std::string tags_json;  // a JSON object ("{}" or "" = none)
  std::string file, rpc_service, rpc_method;
  int64_t start_us = 0, end_us = 0, line = 0, cpu_us = 0, rss_kb = 0, child_run_id = 0;
};

// One line a span printed (stdout, stderr, log).
struct LogItem {
  std::shared_ptr<const RunInfo> run;
  uint64_t span_id = 0;
  int64_t ts_us = 0;
  std::string stream, text;
};

}  // namespace hero::otel
