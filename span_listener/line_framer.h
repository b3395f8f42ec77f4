// LineFramer: splits a byte stream into '\n'-terminated lines (SPAN_FORMAT.md "Framing").
// Thread: any single thread. Pure: no sockets, libuv or SQLite.
//
// Contract:
// - A line is the bytes before a '\n', without the '\n'. A '\r' is part of the line (the JSON
//   parser treats a trailing '\r' as whitespace). Empty lines are skipped, never delivered.
// - A line longer than max_line_bytes is discarded up to the next '\n' (however many chunks
//   later it arrives) and counted once in oversize_lines(). The framer never buffers more than
//   max_line_bytes bytes, nor reserves more.
// - Lines wholly inside one Feed() chunk are delivered as views into that chunk (no copy);
//   lines spanning chunks are assembled in an internal buffer. A delivered view is valid only
//   during the callback. The callback must not call Feed()/Finish() on the same framer.
// - Finish() delivers a final line without '\n' (unless it was oversize) and resets the framer.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace hero::spans {

class LineFramer {
 public:
  explicit LineFramer(size_t max_line_bytes) : max_line_bytes_(max_line_bytes) {}

  // Calls on_line(std::string_view) for each complete, non-empty line in bytes.
  template <typename Fn>
  void Feed(std::string_view bytes, Fn&& on_line);

  // End of stream: delivers the partial last line, if any, and resets the framer.
  template <typename Fn>
  void Finish(Fn&& on_line);

  int64_t oversize_lines() const { return oversize_lines_; }
  // Bytes currently held for an incomplete line (always <= max_line_bytes).
  size_t buffered_bytes() const { return buffer_.size(); }
  // Bytes reserved for it (always <= max_line_bytes).
  size_t buffer_capacity() const { return buffer_.capacity(); }

 private:
  void ReleaseBigBuffer();
  void Reserve(size_t need);  // capacity never above max_line_bytes

  static constexpr size_t kSmallBuffer = 64u << 10;

  size_t max_line_bytes_;
  std::string buffer_;       // the incomplete line so far
  bool discarding_ = false;  // inside an oversize line: drop bytes up to the next '\n'
  int64_t oversize_lines_ = 0;
};

template <typename Fn>
void LineFramer::Feed(std::string_view bytes, Fn&& on_line) {
  const char* p = bytes.data();
  const char* end = p + bytes.size();
  while (p < end) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    if (nl == nullptr) {
      size_t rest = static_cast<size_t>(end - p);
      if (discarding_) return;
      if (buffer_.size() + rest > max_line_bytes_) {
        ++oversize_lines_;
        discarding_ = true;
        buffer_.clear();
        ReleaseBigBuffer();
        return;
      }
      Reserve(buffer_.size() + rest);
      buffer_.append(p, rest);
      return;
    }
    size_t seg = static_cast<size_t>(nl - p);
    if (discarding_) {
      discarding_ = false;
    } else if (buffer_.empty()) {
      if (seg > max_line_bytes_) {
        ++oversize_lines_;
      } else if (seg > 0) {
        on_line(std::string_view(p, seg));
      }
    } else if (buffer_.size() + seg > max_line_bytes_) {
      ++oversize_lines_;
      buffer_.clear();
      ReleaseBigBuffer();
    } else {
      Reserve(buffer_.size() + seg);
      buffer_.append(p, seg);
      on_line(std::string_view(buffer_));
      buffer_.clear();
      ReleaseBigBuffer();
    }
    p = nl + 1;
  }
}

template <typename Fn>
void LineFramer::Finish(Fn&& on_line) {
  if (!discarding_ && !buffer_.empty()) on_line(std::string_view(buffer_));
  discarding_ = false;
  buffer_.clear();
  ReleaseBigBuffer();
}

inline void LineFramer::Reserve(size_t need) {
  // need <= max_line_bytes_ (checked by the callers). Small partial lines grow geometrically;
  // past 64 KiB the buffer jumps to the maximum once, so a long line costs max_line_bytes and
  // not the old + new buffers of each doubling (nor a doubling past the maximum).
  if (need <= buffer_.capacity()) return;
  buffer_.reserve(need <= kSmallBuffer ? std::max(need, 2 * buffer_.capacity()) : max_line_bytes_);
}

inline void LineFramer::ReleaseBigBuffer() {
  // Keep the common case allocation-free, but do not pin up to 1 MiB per idle run.
  if (buffer_.capacity() > kSmallBuffer) std::string().swap(buffer_);
}

}  // namespace hero::spans
