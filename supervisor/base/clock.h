// Clock: wall time in microseconds since the epoch, behind an interface so state machines can
// be tested with a fake. Leaf: libc + STL only.
#pragma once

#include <chrono>
#include <cstdint>

namespace hero {

using Micros = std::chrono::microseconds;

// Microseconds since the Unix epoch (the wire protocol's time unit).
int64_t WallMicrosNow();

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t WallMicros() = 0;  // epoch us; for records shown to people
};

class SystemClock final : public Clock {
 public:
  int64_t WallMicros() override { return WallMicrosNow(); }
};

}  // namespace hero
