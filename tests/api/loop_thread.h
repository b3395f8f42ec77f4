// LoopThread: a uv loop running on another thread, so a test thread can act as a blocking
// client while the server lives on the loop. Run() executes a closure on the loop and waits.
// All loops run on ONE process-wide worker thread that never exits: h2o keeps per-thread
// recycle caches (thread_local freelists) that a thread exiting per test would strand, which
// LeakSanitizer rightly reports; the daemon's loop thread lives as long as the process too.
#pragma once

#include <uv.h>

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

namespace hero::api::testing {

class LoopWorker {
 public:
  static LoopWorker& Get() {
    static LoopWorker* worker = new LoopWorker();  // intentionally immortal
    return *worker;
  }
  void Submit(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
  }

 private:
  LoopWorker() {
    std::thread([this] {
      while (true) {
        std::function<void()> job;
        {
          std::unique_lock<std::mutex> lock(mu_);
          cv_.wait(lock, [this] { return !jobs_.empty(); });
          job = std::move(jobs_.front());
          jobs_.pop_front();
        }
        job();
      }
    }).detach();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
};

class LoopThread {
 public:
  LoopThread() {
    uv_loop_init(&loop_);
    uv_async_init(&loop_, &async_, &OnAsync);
    async_.data = this;
    ran_ = std::make_unique<std::promise<void>>();
    finished_ = ran_->get_future();
    LoopWorker::Get().Submit([this] {
      uv_run(&loop_, UV_RUN_DEFAULT);
      ran_->set_value();
    });
  }
  ~LoopThread() {
    if (!joined_) Finish([](std::function<void()> done) { done(); });
  }

  uv_loop_t* loop() { return &loop_; }

  // Runs fn on the loop thread; returns when it has run.
  void Run(std::function<void()> fn) {
    std::promise<void> ran;
    auto f = ran.get_future();
    Post([&] {
      fn();
      ran.set_value();
    });
    f.wait();
  }

  void Post(std::function<void()> fn) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(fn));
    }
    uv_async_send(&async_);
  }

  // On the loop: stop(done) tears everything down and calls done(); then the async handle is
  // closed, the loop runs dry, the thread is joined. Returns uv_loop_close()'s result: 0 means
  // no handle was left behind.
  int Finish(std::function<void(std::function<void()> done)> stop) {
    Post([this, stop] {
      stop([this] { uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr); });
    });
    finished_.wait();
    joined_ = true;
    int rc = uv_loop_close(&loop_);
    if (rc != 0) {
      uv_walk(
          &loop_,
          [](uv_handle_t* h, void*) {
            std::fprintf(stderr, "leaked uv handle: %s active=%d closing=%d\n",
                         uv_handle_type_name(h->type), uv_is_active(h), uv_is_closing(h));
          },
          nullptr);
    }
    return rc;
  }

 private:
  static void OnAsync(uv_async_t* a) noexcept {
    auto* self = static_cast<LoopThread*>(a->data);
    std::deque<std::function<void()>> q;
    {
      std::lock_guard<std::mutex> lock(self->mu_);
      q.swap(self->queue_);
    }
    for (auto& fn : q) fn();
  }

  uv_loop_t loop_;
  uv_async_t async_;
  std::mutex mu_;
  std::deque<std::function<void()>> queue_;
  std::unique_ptr<std::promise<void>> ran_;
  std::future<void> finished_;
  bool joined_ = false;
};

}  // namespace hero::api::testing
