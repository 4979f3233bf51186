// The time the relay state machine is given: coarse monotonic and wall clocks (vDSO, no syscall).
#pragma once

#include <time.h>

#include <cstdint>

#include "relay/types.h"

namespace turnpike::net {

inline relay::Now now() {
  timespec mono{}, wall{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &mono);
  clock_gettime(CLOCK_REALTIME_COARSE, &wall);
  return relay::Now{int64_t(mono.tv_sec) * 1000 + mono.tv_nsec / 1'000'000,
                    int64_t(wall.tv_sec) * 1000 + wall.tv_nsec / 1'000'000};
}

}  // namespace turnpike::net
