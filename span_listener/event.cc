// Event helpers.
#include "span_listener/event.h"

namespace hero::spans {

std::string_view EventTypeName(EventType t) {
  switch (t) {
    case EventType::kHello:
      return "hello";
    case EventType::kSpanStart:
      return "span_start";
    case EventType::kSpanTag:
      return "span_tag";
    case EventType::kSpanLog:
      return "span_log";
    case EventType::kSpanEnd:
      return "span_end";
    case EventType::kResult:
      return "result";
    case EventType::kCall:
      return "call";
    case EventType::kLimit:
      return "limit";
  }
  return "?";
}

void Event::Clear() {
  type = EventType::kHello;
  id.clear();
  parent_null = false;
  parent.clear();
  name.clear();
  kind.clear();
  ts = 0;
  tags_json.clear();
  file.clear();
  line = 0;
  rpc_service.clear();
  rpc_method.clear();
  child_run_id = 0;
  stream.clear();
  text.clear();
  status.clear();
  error.clear();
  error_type.clear();
  traceback.clear();
  cpu_us = rss_kb = 0;
  has_cpu = has_rss = false;
  output_json.clear();
  req = 0;
  method.clear();
  params_json.clear();
  v = pid = 0;
  sdk.clear();
  has_file = has_line = has_rpc_service = has_rpc_method = has_child_run_id = false;
}

}  // namespace hero::spans
