// Plain values the store persists: run records, span rows, log rows, run queries, and the
// flow library (flows, versions, search hits, saved example inputs). Any thread (values
// only). Depends on base only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "supervisor/base/ids.h"
#include "supervisor/base/run_status.h"

namespace hero::store {

// One run (SPEC §4). Times are microseconds since the epoch; 0 = not yet.
struct RunRecord {
  RunId id;  // assigned by the store on CreateRun
  std::string flow_name;
  int64_t flow_version = 0;
  RunId parent_run;         // invalid (0) = not a sub-flow
  std::string parent_span;  // the parent run's span id that started this run
  std::string input_json = "{}";
  std::string output_json;  // "" = no output
  RunStatus status = RunStatus::kQueued;
  std::string reason;  // human-readable; set on every terminal run
  int exit_code = -1;
  int signal = 0;
  std::string profile;
  bool network = false;
  std::string source_path, workdir;
  int64_t created_us = 0, started_us = 0, ended_us = 0, cpu_us = 0, peak_rss_kb = 0, span_count = 0;
  int64_t malformed_lines = 0, unknown_type_lines = 0, oversize_lines = 0, orphan_events = 0,
          dropped_spans = 0, dropped_log_bytes = 0, dropped_tag_events = 0,
          dropped_output_bytes = 0;
  std::string diagnostics_json = "[]";
  std::string stdout_tail, stderr_tail;
  int64_t run_uid = 0;  // the per-run uid its processes ran as (0: none, e.g. non-root host)

  friend bool operator==(const RunRecord&, const RunRecord&) = default;
};

// One span of a run, keyed by (run, seq). Status is the span_listener's vocabulary:
// "running" while open, then "ok", "failed", "cancelled", "timed_out", "killed".
struct SpanRow {
  SpanSeq seq;
  std::string span_id, parent_id /* "" = root */, name, kind, status;
  int64_t start_us = 0, end_us = 0;
  std::string tags_json = "{}", error, error_type, traceback, file;
  int64_t line = 0;
  std::string rpc_service, rpc_method;
  int64_t cpu_us = 0, rss_kb = 0, child_run_id = 0;
  bool orphan = false;

  friend bool operator==(const SpanRow&, const SpanRow&) = default;
};

// One log line of a span. The store assigns a per-run log sequence (insertion order).
struct LogRow {
  SpanSeq span_seq;
  int64_t ts_us = 0;
  std::string stream;  // "stdout", "stderr", "log"
  std::string text;

  friend bool operator==(const LogRow&, const LogRow&) = default;
};

// Filters for ListRuns; empty/zero fields do not filter. Results are newest first (id desc).
struct RunFilter {
  std::optional<RunStatus> status;
  std::string flow;       // exact flow name
  int64_t since_us = 0;   // created_us >= since_us
  int64_t until_us = 0;   // created_us < until_us
  std::string text;       // substring of flow name or reason (LIKE, case-insensitive ASCII)
  int64_t before_id = 0;  // cursor: only ids < before_id (pass the last id of the previous page)
  int limit = 50;         // <= 0 means 50; at most 1000
};

// One version of a library flow. Versions of a flow are numbered 1, 2, 3, ... by the store
// and never change once written. JSON fields are stored as given (the caller validates).
struct FlowVersion {
  int64_t version = 0;  // assigned by the store; ignored on input
  std::string source;   // the Python source
  std::string description, docstring;
  std::string inputs_json = "{}";   // declared inputs: {"url":"str","max_words":"int"}
  std::string outputs_json = "{}";  // declared outputs, same shape
  std::string tags_json = "[]";     // ["web","llm"]
  std::string entry;                // the @flow function's name
  int64_t line = 0;                 // the line of that function in `source`
  int64_t created_us = 0;           // 0 on input = now

  friend bool operator==(const FlowVersion&, const FlowVersion&) = default;
};

// A library flow and one of its versions (`current`: the current version unless the call
// says otherwise, see Store::GetFlow and Store::AddFlowVersion).
struct FlowRecord {
  int64_t id = 0;  // stable across delete + revive
  std::string name;
  int64_t current_version = 0;
  int64_t created_us = 0, updated_us = 0;
  FlowVersion current;

  friend bool operator==(const FlowRecord&, const FlowRecord&) = default;
};

// One flow_library_search result.
struct FlowSearchHit {
  std::string name, description;
  std::string snippet;  // <= 12 tokens of the best-matching column, matches in [ ]
  double score = 0;     // -bm25: higher is better; only comparable within one query
  int64_t version = 0;  // the flow's current version (the one that was searched)
};

// A saved input preset of a flow, unique by (flow_name, name).
struct ExampleRecord {
  int64_t id = 0;  // assigned by the store; kept when an upsert replaces the input
  std::string flow_name, name;
  std::string input_json = "{}";
  int64_t created_us = 0;  // 0 on input = now; an upsert sets it to the time of the upsert

  friend bool operator==(const ExampleRecord&, const ExampleRecord&) = default;
};

}  // namespace hero::store
