#include "supervisor/loop/memory_trimmer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <vector>

namespace hero::loop {
namespace {

size_t ResidentBytes() {
  long pages = 0, resident = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
  std::fclose(f);
  return static_cast<size_t>(resident) * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

// Runs a trimmer (period `period_ms`, threshold `threshold`) on a fresh loop until it trimmed
// once or `max_ms` passed; returns how many trims it did.
int64_t RunTrimmer(uint64_t period_ms, size_t threshold, uint64_t max_ms) {
  uv_loop_t loop;
  EXPECT_EQ(uv_loop_init(&loop), 0);
  MemoryTrimmer trimmer(&loop, std::chrono::milliseconds(period_ms), threshold);
  EXPECT_TRUE(trimmer.Start().ok());
  struct Ctx {
    MemoryTrimmer* trimmer;
    uint64_t left_ms;
  } ctx{&trimmer, max_ms};
  uv_timer_t stop;  // the trimmer's timer is unref'ed: this one keeps the loop alive
  uv_timer_init(&loop, &stop);
  stop.data = &ctx;
  uv_timer_start(
      &stop,
      [](uv_timer_t* t) {
        auto* c = static_cast<Ctx*>(t->data);
        c->left_ms = c->left_ms > 5 ? c->left_ms - 5 : 0;
        if (c->trimmer->trims() > 0 || c->left_ms == 0) {
          c->trimmer->Close();
          uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr);
        }
      },
      5, 5);
  uv_run(&loop, UV_RUN_DEFAULT);
  EXPECT_EQ(uv_loop_close(&loop), 0);
  return trimmer.trims();
}

TEST(MemoryTrimmerTest, GivesFreedArenaMemoryBackToTheKernel) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "ASan replaces malloc: glibc's arenas (mallinfo2, malloc_trim) are not in use";
#endif
  // 96 MiB of small chunks, touched, then freed while one chunk above them pins the top of
  // the heap: glibc keeps all of it resident (free() only trims the top).
  std::vector<char*> chunks;
  for (int i = 0; i < 96 * 1024; ++i) {
    char* c = static_cast<char*>(std::malloc(1000));
    std::memset(c, 1, 1000);
    chunks.push_back(c);
  }
  char* pin = static_cast<char*>(std::malloc(1000));
  std::memset(pin, 1, 1000);
  for (char* c : chunks) std::free(c);
  size_t before = ResidentBytes();
  ASSERT_GT(MemoryTrimmer::FreeHeapBytes(), 64u << 20);

  EXPECT_GE(RunTrimmer(5, 32u << 20, 5000), 1);
  size_t after = ResidentBytes();
  EXPECT_LT(after + (48u << 20), before)
      << "resident " << (before >> 20) << " MiB -> " << (after >> 20) << " MiB";
  std::free(pin);
}

TEST(MemoryTrimmerTest, DoesNothingBelowTheThreshold) {
  EXPECT_EQ(RunTrimmer(2, size_t{1} << 40, 50), 0);
}

}  // namespace
}  // namespace hero::loop
