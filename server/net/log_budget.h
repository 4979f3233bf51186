// At most N log lines a second from one source (a worker's listeners): a flood of bad
// handshakes or refused connections must not become a flood of log lines. Not thread-safe;
// one per worker.
#pragma once

#include <cstdint>

#include "net/log.h"

namespace turnpike::net {

class LogBudget {
 public:
  explicit LogBudget(unsigned per_second = 20) : per_second_(per_second) {}

  // True when a line may be written now; otherwise the line is counted and reported later.
  bool take(int64_t now_ms) {
    if (now_ms - window_start_ms_ >= 1000) {
      if (suppressed_)
        log(LogLevel::Notice, suppressed_, " more connection messages were not logged");
      suppressed_ = 0;
      window_start_ms_ = now_ms;
      used_ = 0;
    }
    if (used_ >= per_second_) {
      ++suppressed_;
      return false;
    }
    ++used_;
    return true;
  }

 private:
  unsigned per_second_;
  int64_t window_start_ms_ = 0;
  unsigned used_ = 0;
  uint64_t suppressed_ = 0;
};

}  // namespace turnpike::net
