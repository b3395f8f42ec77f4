// UvHandle<T>: owns one heap-allocated libuv handle and frees it only in its close callback,
// which is libuv's rule. Loop thread only. Depends on libuv and base only.
#pragma once

#include <uv.h>

#include <functional>
#include <string_view>
#include <utility>

#include "supervisor/base/check.h"
#include "supervisor/base/result.h"
#include "supervisor/base/status.h"

namespace hero::loop {

// A libuv return code as a Status (libuv codes are negated errno values on Unix).
Status UvStatus(int uv_rc, std::string_view context);

// Contract: Create() runs `init(T*)` (e.g. `[&](uv_timer_t* t) { return uv_timer_init(loop, t);
// }`); on failure the memory is released at once (an uninitialized handle needs no close). Close()
// starts uv_close; the memory is freed inside the close callback, then `on_closed` runs. The
// destructor closes a still-open handle (without a callback). `data` is the caller's to use.
template <typename T>
class UvHandle {
 public:
  UvHandle() = default;
  UvHandle(UvHandle&& o) noexcept : box_(std::exchange(o.box_, nullptr)) {}
  UvHandle& operator=(UvHandle&& o) noexcept {
    if (this != &o) {
      if (box_ != nullptr) Close();
      box_ = std::exchange(o.box_, nullptr);
    }
    return *this;
  }
  UvHandle(const UvHandle&) = delete;
  UvHandle& operator=(const UvHandle&) = delete;
  ~UvHandle() {
    if (box_ != nullptr) Close();
  }

  template <typename Init>
  static Result<UvHandle> Create(Init&& init) {
    auto* box = new Box();
    int rc = init(&box->handle);
    if (rc != 0) {
      delete box;
      return UvStatus(rc, "uv handle init");
    }
    UvHandle h;
    h.box_ = box;
    return h;
  }

  bool valid() const { return box_ != nullptr; }
  T* get() const {
    HERO_CHECK(box_ != nullptr);
    return &box_->handle;
  }
  uv_handle_t* handle() const { return reinterpret_cast<uv_handle_t*>(get()); }

  void Close(std::function<void()> on_closed = nullptr) {
    HERO_CHECK(box_ != nullptr);
    box_->on_closed = std::move(on_closed);
    uv_close(handle(), &OnClose);
    box_ = nullptr;
  }

 private:
  struct Box {
    T handle;  // first member: the uv_handle_t* given to OnClose is the Box*
    std::function<void()> on_closed;
  };
  static void OnClose(uv_handle_t* h) noexcept {
    Box* box = reinterpret_cast<Box*>(h);
    std::function<void()> cb = std::move(box->on_closed);
    delete box;
    if (cb) cb();
  }
  Box* box_ = nullptr;
};

}  // namespace hero::loop
