// MemoryTrimmer: gives freed heap back to the kernel. glibc keeps freed chunks in its arenas,
// so after a span flood or a large tree answer a long-lived daemon would keep hundreds of MiB
// it no longer uses (measured: 224 MiB resident after an E51 flood, 47 MiB after one
// malloc_trim). Every `period` it reads mallinfo2(); when more than `threshold` bytes are free
// inside the arenas it runs malloc_trim(0) on libuv's thread pool (never on the loop thread).
// Loop thread only. Depends on libuv and base.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "supervisor/base/status.h"
#include "supervisor/loop/uv_handle.h"

namespace hero::loop {

class MemoryTrimmer {
 public:
  MemoryTrimmer(uv_loop_t* loop, std::chrono::milliseconds period, size_t threshold_bytes)
      : loop_(loop), period_(period), threshold_(threshold_bytes) {}
  MemoryTrimmer(const MemoryTrimmer&) = delete;
  MemoryTrimmer& operator=(const MemoryTrimmer&) = delete;

  Status Start();
  // Stops the timer; a trim already queued still completes (it owns no state of ours).
  void Close();

  // Bytes free inside malloc's arenas right now (mallinfo2().fordblks). Any thread.
  static size_t FreeHeapBytes();

  int64_t trims() const { return state_->trims; }

 private:
  struct State {  // shared with a queued trim, which may complete after Close()
    bool in_flight = false;
    int64_t trims = 0;
  };
  static void OnTimer(uv_timer_t* t);

  uv_loop_t* loop_;
  std::chrono::milliseconds period_;
  size_t threshold_;
  UvHandle<uv_timer_t> timer_;
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace hero::loop
