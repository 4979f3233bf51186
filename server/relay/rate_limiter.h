// A per-source budget for answers to unauthenticated requests (Binding, 401, 438, 400, 420),
// so the server cannot be used to reflect a flood at a spoofed victim. A fixed table of token
// buckets indexed by a keyed hash of the source IP: nothing is allocated per source, collisions
// only make the limit stricter for the sources that share a slot.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "relay/types.h"

namespace turnpike::relay {

class UnauthRateLimiter {
 public:
  // `rate` answers per second per source IP, bursts of up to 2 x rate; 0 disables the limit.
  UnauthRateLimiter(uint32_t rate, uint64_t hash_key) : rate_(rate), key_(hash_key) {}
  bool allow(const IpAddress& source, int64_t now_ms);
  uint64_t dropped() const { return dropped_; }

 private:
  struct Slot {
    int64_t last_ms = 0;
    uint32_t tokens_milli = 0;  // thousandths of a token
  };
  static constexpr size_t kSlots = 4096;
  uint32_t rate_;
  uint64_t key_;
  uint64_t dropped_ = 0;
  std::array<Slot, kSlots> slots_{};
};

}  // namespace turnpike::relay
