// Limits: per-run caps of the span listener (SPAN_FORMAT.md "Per-run caps"). Plain value.
// Thread: any. Depends on nothing (no sockets, libuv or SQLite).
#pragma once

#include <cstddef>
#include <cstdint>

namespace hero::spans {

struct Limits {
  size_t max_line_bytes = 1 << 20;     // excluding the '\n'; longer lines are dropped
  int64_t max_spans = 1'000'000;       // new spans beyond it are dropped (dropped_spans)
  int64_t max_log_bytes = 64LL << 20;  // text bytes of all logs of a run (dropped_log_bytes)
  size_t max_tag_bytes = 64 << 10;     // minified tags JSON per span (dropped_tag_events)
};

}  // namespace hero::spans
