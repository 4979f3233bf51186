// Held, refreshing allocations (issue 11's whole-daemon scale scenario): after the set-up
// (setup.h) every allocation sends a signed Refresh (RFC 8656 §8) once per refresh interval,
// the sends spread evenly over the interval, until the hold ends; 438 Stale Nonce is followed
// (RFC 8489 §9.2.5), a lost request is retransmitted. The allocations are then released with
// Refresh LIFETIME 0, or left to the server when `release` is false.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "loadgen/options.h"
#include "loadgen/session.h"

namespace bench {

struct HoldResult {
  uint64_t refreshes = 0;  // successful Refresh transactions
  uint64_t failed = 0;     // error answers other than 438, or no answer after all retries
  uint64_t stale_nonce = 0;
  uint64_t retransmits = 0;
  uint64_t late = 0;  // refreshes sent more than one interval/10 after their slot
};

// Holds `sessions` (already set up; those whose set-up failed are skipped) for `hold_s` seconds,
// refreshing each every `refresh_s`.
HoldResult run_hold(std::vector<Session>& sessions, const Options& o, const std::string& realm,
                    double hold_s, double refresh_s);

}  // namespace bench
