// StorePump implementation.
#include "supervisor/core/store_pump.h"

namespace hero::core {

StorePump::StorePump(uv_loop_t* loop) {
  uv_async_init(loop, async_.Allocate(this), &StorePump::OnAsync);
  async_.Initialized();
}

void StorePump::Wake() {
  if (uv_async_t* a = async_.get()) uv_async_send(a);
}

void StorePump::Close() { async_.Close(); }

void StorePump::OnAsync(uv_async_t* a) {
  auto* self = static_cast<StorePump*>(a->data);
  if (self && self->store_) self->store_->DrainCompletions();
}

}  // namespace hero::core
