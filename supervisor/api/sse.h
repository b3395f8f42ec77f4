// Server-Sent Events: the stream interface the backend writes a run's events into, and the
// wire framing (both directions). SseStream lives on the loop thread; the framing helpers are
// pure. Depends on base only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "supervisor/base/status.h"

namespace hero::api {

// One client's event stream (GET /api/runs/{id}/events). Loop thread only. The backend may
// keep the shared_ptr as long as it likes; once the client is gone the stream just refuses.
class SseStream {
 public:
  virtual ~SseStream() = default;
  // Queues one event: `id:` (omitted when event_id < 0), `event:` (omitted when empty;
  // CR/LF in it become spaces), one `data:` line per line of data_json. Returns false when
  // the stream is closed (client gone, Close() called, server stopping, or dropped because
  // the client fell more than the per-client cap behind: it then receives a final
  // `event: dropped` and should reconnect with Last-Event-ID). A false return is permanent:
  // forget the stream.
  virtual bool Send(int64_t event_id, std::string_view event_name, std::string_view data_json) = 0;
  // Ends the stream after the queued events are written (e.g. the run finished). Idempotent.
  virtual void Close() = 0;
  virtual bool is_open() const = 0;
};

// Appends one event in SSE framing (see SseStream::Send), ending with the blank line.
void AppendSseEvent(std::string& out, int64_t event_id, std::string_view event_name,
                    std::string_view data);

// Incremental client-side parser (RFC: WHATWG "event stream interpretation"): feed bytes as
// they arrive; each complete event calls `on_event(id, event, data)` (id -1 when the event has
// none; event "message" by default; data lines joined with '\n'). Comment lines (":...") are
// skipped. A line longer than `max_line` is an error (kResourceExhausted), never unbounded
// growth. `on_event` returning false stops parsing: Feed then returns kCancelled.
class SseParser {
 public:
  using OnEvent = std::function<bool(int64_t id, std::string_view event, std::string_view data)>;
  explicit SseParser(OnEvent on_event, size_t max_line = 16u << 20);
  Status Feed(std::string_view bytes);
  int64_t last_event_id() const { return last_id_; }

 private:
  bool Line(std::string_view line);
  OnEvent on_event_;
  size_t max_line_;
  std::string buf_;
  bool skip_lf_ = false;
  int64_t last_id_ = -1;
  int64_t id_ = -1;
  std::string event_;
  std::string data_;
  bool has_data_ = false;
};

}  // namespace hero::api
