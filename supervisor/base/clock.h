// Clock: wall time in microseconds since the epoch and a monotonic clock, behind an
// interface so state machines are tested with a fake. Leaf: libc + STL only.
#pragma once

#include <chrono>
#include <cstdint>

namespace hero {

using Micros = std::chrono::microseconds;
using MonoTime = std::chrono::steady_clock::time_point;

// Microseconds since the Unix epoch (the wire protocol's time unit).
int64_t WallMicrosNow();

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t WallMicros() = 0;  // epoch us; for records shown to people
  virtual MonoTime Mono() = 0;       // for timeouts and durations
};

class SystemClock final : public Clock {
 public:
  int64_t WallMicros() override { return WallMicrosNow(); }
  MonoTime Mono() override { return std::chrono::steady_clock::now(); }
};

// Test clock: time moves only when the test says so.
class FakeClock final : public Clock {
 public:
  int64_t WallMicros() override { return wall_us_; }
  MonoTime Mono() override { return mono_; }
  void Advance(Micros d) {
    wall_us_ += d.count();
    mono_ += d;
  }
  void SetWall(int64_t us) { wall_us_ = us; }

 private:
  int64_t wall_us_ = 1'700'000'000'000'000;
  MonoTime mono_{};
};

}  // namespace hero
