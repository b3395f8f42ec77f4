// SSE framing and parsing. Pure.
#include "supervisor/api/sse.h"

#include <charconv>
#include <utility>

namespace hero::api {

void AppendSseEvent(std::string& out, int64_t event_id, std::string_view event_name,
                    std::string_view data) {
  if (event_id >= 0) {
    out += "id: ";
    out += std::to_string(event_id);
    out += '\n';
  }
  if (!event_name.empty()) {
    out += "event: ";
    for (char c : event_name) out += (c == '\n' || c == '\r') ? ' ' : c;
    out += '\n';
  }
  // Each line of data becomes its own data: line; CRLF, CR and LF all end a line.
  size_t start = 0;
  while (true) {
    size_t end = data.find_first_of("\r\n", start);
    out += "data: ";
    out.append(
        data.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    out += '\n';
    if (end == std::string_view::npos) break;
    start = end + 1;
    if (data[end] == '\r' && start < data.size() && data[start] == '\n') ++start;
    if (start == data.size()) break;  // a trailing newline adds no empty data line
  }
  out += '\n';
}

SseParser::SseParser(OnEvent on_event, size_t max_line)
    : on_event_(std::move(on_event)), max_line_(max_line) {}

Status SseParser::Feed(std::string_view bytes) {
  for (size_t i = 0; i < bytes.size(); ++i) {
    char c = bytes[i];
    if (skip_lf_) {
      skip_lf_ = false;
      if (c == '\n') continue;
    }
    if (c == '\r' || c == '\n') {
      skip_lf_ = (c == '\r');
      std::string line = std::move(buf_);
      buf_.clear();
      if (!Line(line)) return Status(StatusCode::kCancelled, "stopped by the event callback");
      continue;
    }
    if (buf_.size() >= max_line_) {
      return ResourceExhausted("SSE line longer than " + std::to_string(max_line_) + " bytes");
    }
    buf_ += c;
  }
  return Status::Ok();
}

bool SseParser::Line(std::string_view line) {
  if (line.empty()) {  // dispatch
    bool keep_going = true;
    if (has_data_) {
      if (id_ >= 0) last_id_ = id_;
      keep_going = on_event_(id_, event_.empty() ? std::string_view("message") : event_, data_);
    }
    id_ = -1;
    event_.clear();
    data_.clear();
    has_data_ = false;
    return keep_going;
  }
  if (line[0] == ':') return true;
  size_t colon = line.find(':');
  std::string_view field = line.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) data_ += '\n';
    data_.append(value);
    has_data_ = true;
  } else if (field == "event") {
    event_ = std::string(value);
  } else if (field == "id") {
    int64_t v = -1;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec == std::errc() && p == value.data() + value.size()) id_ = v;
  }
  return true;
}

}  // namespace hero::api
