// Monotonic time in nanoseconds, for the benchmark tools.
#pragma once

#include <time.h>

#include <cstdint>

namespace bench {

inline int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace bench
