// StorePump: delivers the store thread's completions to the loop thread (uv_async +
// Store::DrainCompletions). Wake() is the only method safe to call from another thread.
#pragma once

#include <uv.h>

#include "supervisor/core/uv_handle.h"
#include "supervisor/store/store.h"

namespace hero::core {

class StorePump {
 public:
  explicit StorePump(uv_loop_t* loop);
  void set_store(store::Store* s) { store_ = s; }
  void Wake();   // any thread
  void Close();  // loop thread; before the loop closes

 private:
  static void OnAsync(uv_async_t* a);
  UvHandle<uv_async_t> async_;
  store::Store* store_ = nullptr;
};

}  // namespace hero::core
