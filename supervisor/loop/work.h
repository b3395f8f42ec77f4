// QueueWork: runs a function on libuv's thread pool and its continuation back on the loop
// thread. The one wrapper around uv_queue_work; callers capture what the work needs.
// Loop thread only (the call and `done`); `work` runs on a pool thread. Depends on libuv.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

namespace hero::loop {

// `work()` on the pool, then `done()` on the loop. `work` is destroyed on the pool thread
// right after it ran, so what it captured (rows, a rendered tree) is freed there too. If the
// loop refuses the work (it does not while it is alive), both run inline: `done` is never
// lost. `done` may be empty.
void QueueWork(uv_loop_t* loop, std::function<void()> work, std::function<void()> done);

// The same with a value: `done(work())`, the value moved from the pool thread to the loop.
template <typename Work, typename Done>
void QueueWorkWithResult(uv_loop_t* loop, Work work, Done done) {
  using T = std::invoke_result_t<Work&>;
  auto slot = std::make_shared<std::optional<T>>();
  QueueWork(
      loop, [slot, work = std::move(work)]() mutable { slot->emplace(work()); },
      [slot, done = std::move(done)]() mutable { done(std::move(**slot)); });
}

}  // namespace hero::loop
