#include "net/drain.h"

#include "net/log.h"

namespace turnpike::net {

std::string Drain::start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (started_) return "already draining";
  deadline_ = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s_);
  service_.set_draining(true);
  started_ = true;
  std::string line =
      "draining: new allocations are refused, existing ones go on; turnpike exits "
      "when the last one ends";
  if (timeout_s_) line += " or in " + std::to_string(timeout_s_) + " s (drain-timeout)";
  log(LogLevel::Notice, line);
  return line;
}

bool Drain::tick() {
  if (!started_) return false;
  std::lock_guard<std::mutex> lock(mu_);
  const MetricsSnapshot s = service_.collect_metrics(std::chrono::milliseconds(1000));
  if (s.workers.size() < service_.worker_count()) return false;  // a worker is busy: next second
  int64_t left = 0;
  for (const auto& w : s.workers) left += int64_t(w.allocations);
  if (left != last_left_) {
    last_left_ = left;
    const std::string line = "draining: " + std::to_string(left) + " allocation(s) left";
    log(LogLevel::Notice, line);
    if (status_) status_(line);
  }
  if (left == 0) {
    log(LogLevel::Notice, "drained: the last allocation ended; stopping");
    return true;
  }
  if (timeout_s_ && std::chrono::steady_clock::now() >= deadline_) {
    log(LogLevel::Notice, "drain-timeout (", timeout_s_, " s) passed with ", left,
        " allocation(s) left; stopping, which ends them");
    return true;
  }
  return false;
}

}  // namespace turnpike::net
