// Event: one parsed child -> supervisor line (SPAN_FORMAT.md "Child -> supervisor events").
// Plain value, owns copies of every string (nothing points into parser memory).
// Thread: any. Depends on nothing (no sockets, libuv or SQLite).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace hero::spans {

enum class EventType { kHello, kSpanStart, kSpanTag, kSpanLog, kSpanEnd, kResult, kCall, kLimit };

std::string_view EventTypeName(EventType t);

// Which fields are meaningful depends on `type`; the others are cleared/zero. Optional fields
// that were not given are empty strings (or has_* == false / 0). `tags_json`, `output_json`
// and `params_json` are minified JSON text; `tags_json` has no duplicate keys (the last
// occurrence wins) and is empty when `tags` was absent.
struct Event {
  EventType type = EventType::kHello;
  // span_start / span_tag / span_log / span_end
  std::string id;
  bool parent_null = false;  // span_start: "parent": null
  std::string parent;        // span_start: the parent's id when not null
  std::string name, kind;    // kind as sent; the assembler normalizes unknown kinds to "other"
                             // limit: `name` is the limit ("memory", "file_size", ...)
  int64_t ts = 0;
  std::string tags_json;
  std::string file;
  int64_t line = 0;
  std::string rpc_service, rpc_method;
  int64_t child_run_id = 0;
  // span_log
  std::string stream, text;
  // span_end (limit: `error` too)
  std::string status, error, error_type, traceback;
  int64_t cpu_us = 0, rss_kb = 0;
  bool has_cpu = false, has_rss = false;
  // result
  std::string output_json;
  // call
  int64_t req = 0;
  std::string method, params_json;
  // hello
  int64_t v = 0, pid = 0;
  std::string sdk;
  // span_start: which optional fields were given (a repeated start updates only these).
  bool has_file = false, has_line = false, has_rpc_service = false, has_rpc_method = false,
       has_child_run_id = false;

  // Clears every field, keeping string capacity (no allocation on reuse).
  void Clear();
};

}  // namespace hero::spans
