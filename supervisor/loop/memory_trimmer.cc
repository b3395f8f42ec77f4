#include "supervisor/loop/memory_trimmer.h"

#include <malloc.h>

#include "supervisor/loop/work.h"

namespace hero::loop {

size_t MemoryTrimmer::FreeHeapBytes() { return mallinfo2().fordblks; }

Status MemoryTrimmer::Start() {
  auto t = UvHandle<uv_timer_t>::Create([&](uv_timer_t* h) { return uv_timer_init(loop_, h); });
  if (!t.ok()) return t.status();
  timer_ = std::move(t).value();
  timer_.get()->data = this;
  uv_unref(timer_.handle());  // never keeps the loop alive on its own
  auto ms = static_cast<uint64_t>(period_.count());
  return UvStatus(uv_timer_start(timer_.get(), &OnTimer, ms, ms), "start the memory trimmer");
}

void MemoryTrimmer::Close() {
  if (timer_.valid()) timer_.Close();
}

void MemoryTrimmer::OnTimer(uv_timer_t* t) {
  auto* self = static_cast<MemoryTrimmer*>(t->data);
  if (self->state_->in_flight || FreeHeapBytes() < self->threshold_) return;
  self->state_->in_flight = true;
  QueueWork(
      self->loop_, [] { malloc_trim(0); },
      [state = self->state_] {
        state->in_flight = false;
        ++state->trims;
      });
}

}  // namespace hero::loop
