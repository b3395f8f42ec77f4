// UvHandle<T>: owns one libuv handle allocated on the heap; closing is asynchronous and the
// memory is freed only in the close callback (libuv's lifecycle rule). Loop thread only.
#pragma once

#include <uv.h>

#include "supervisor/base/check.h"

namespace hero::core {

template <typename T>
class UvHandle {
 public:
  UvHandle() = default;
  ~UvHandle() { Close(); }
  UvHandle(const UvHandle&) = delete;
  UvHandle& operator=(const UvHandle&) = delete;

  // Allocates the handle; the caller must uv_*_init it right away (then call Initialized()).
  T* Allocate(void* data) {
    HERO_CHECK(h_ == nullptr);
    h_ = new T();
    h_->data = data;
    return h_;
  }
  void Initialized() { initialized_ = true; }
  T* get() const { return h_; }
  explicit operator bool() const { return h_ != nullptr; }

  // Stops callbacks now; frees memory in the close callback.
  void Close() {
    if (!h_) return;
    if (initialized_) {
      h_->data = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(h_),
               [](uv_handle_t* h) { delete reinterpret_cast<T*>(h); });
    } else {
      delete h_;
    }
    h_ = nullptr;
    initialized_ = false;
  }

 private:
  T* h_ = nullptr;
  bool initialized_ = false;
};

}  // namespace hero::core
