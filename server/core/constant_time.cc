#include "core/constant_time.h"

namespace turnpike::core {

bool constant_time_equal(const uint8_t* a, const uint8_t* b, size_t n) {
  // Accumulate the differences without branching; `volatile` keeps the compiler from turning the
  // loop back into an early-exit memcmp.
  volatile uint8_t diff = 0;
  for (size_t i = 0; i < n; ++i) diff = uint8_t(diff | (a[i] ^ b[i]));
  return diff == 0;
}

}  // namespace turnpike::core
