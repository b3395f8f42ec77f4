#include "supervisor/loop/work.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace hero::loop {
namespace {

// A value whose destructor records the thread it ran on.
struct ThreadTag {
  std::thread::id* destroyed_on;
  ~ThreadTag() { *destroyed_on = std::this_thread::get_id(); }
};

TEST(QueueWorkTest, WorkRunsOnThePoolAndDoneOnTheLoopThread) {
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  const std::thread::id loop_thread = std::this_thread::get_id();
  std::thread::id work_thread, done_thread, capture_freed_on;
  auto tag = std::make_unique<ThreadTag>(ThreadTag{&capture_freed_on});
  QueueWork(
      &loop,
      [&work_thread, tag = std::shared_ptr<ThreadTag>(std::move(tag))] {
        work_thread = std::this_thread::get_id();
      },
      [&done_thread] { done_thread = std::this_thread::get_id(); });
  EXPECT_EQ(done_thread, std::thread::id());  // not before the loop runs
  uv_run(&loop, UV_RUN_DEFAULT);
  EXPECT_NE(work_thread, std::thread::id());
  EXPECT_NE(work_thread, loop_thread);
  EXPECT_EQ(done_thread, loop_thread);
  // What the work captured is freed on the pool thread, not on the loop.
  EXPECT_EQ(capture_freed_on, work_thread);
  EXPECT_EQ(uv_loop_close(&loop), 0);
}

TEST(QueueWorkTest, ResultIsMovedToDoneAndEveryJobCompletes) {
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  std::vector<std::string> got(50);
  std::atomic<int> ran_without_done{0};
  for (int i = 0; i < 50; ++i) {
    QueueWorkWithResult(
        &loop, [i] { return std::string(1000 + i, 'x') + std::to_string(i); },
        [&got, i](std::string s) { got[i] = std::move(s); });
    QueueWork(
        &loop, [&ran_without_done] { ++ran_without_done; }, nullptr);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(got[i].size(), 1000u + i + std::to_string(i).size()) << i;
    EXPECT_EQ(got[i].substr(1000 + i), std::to_string(i));
  }
  EXPECT_EQ(ran_without_done.load(), 50);  // an empty continuation is allowed
  EXPECT_EQ(uv_loop_close(&loop), 0);      // nothing left queued
}

}  // namespace
}  // namespace hero::loop
