#include "relay/rate_limiter.h"

#include <algorithm>

namespace turnpike::relay {

bool UnauthRateLimiter::allow(const IpAddress& source, int64_t now_ms) {
  if (rate_ == 0) return true;
  uint64_t h = key_;
  for (size_t i = 0; i < source.size(); ++i) {
    h ^= source.data()[i];
    h *= 0x100000001b3ull;
  }
  h ^= h >> 29;
  Slot& s = slots_[h % kSlots];
  const uint64_t burst = uint64_t(rate_) * 2000;  // milli-tokens
  if (s.last_ms == 0) {
    s.tokens_milli = uint32_t(std::min<uint64_t>(burst, 0xFFFFFFFFu));
  } else if (now_ms > s.last_ms) {
    const uint64_t refill = uint64_t(now_ms - s.last_ms) * rate_;
    s.tokens_milli = uint32_t(std::min<uint64_t>(burst, s.tokens_milli + refill));
  }
  s.last_ms = now_ms;
  if (s.tokens_milli < 1000) {
    ++dropped_;
    return false;
  }
  s.tokens_milli -= 1000;
  return true;
}

}  // namespace turnpike::relay
