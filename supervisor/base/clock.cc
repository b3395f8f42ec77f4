// Clock implementation.
#include "supervisor/base/clock.h"

#include <time.h>

namespace hero {

int64_t WallMicrosNow() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

}  // namespace hero
