// Draining (README "Drain and graceful stop"): on SIGUSR1 or turnpike-admin drain the relay
// refuses new allocations (relay::Server::set_draining: 300 Try Alternate with ALTERNATE-SERVER,
// or 403), keeps relaying and refreshing the ones it has, answers /ready with 503, tells the
// log (and systemd's STATUS=, when a status callback is given) how many remain, and stops the
// process when the last one ends or drain-timeout passes (then the rest end as at SIGTERM).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "net/relay_service.h"

namespace turnpike::net {

class Drain {
 public:
  // `timeout_s` 0: no deadline. `status` (may be null) receives a one-line status each time the
  // number left changes (STATUS= for systemd).
  Drain(RelayService& service, uint32_t timeout_s, std::function<void(const std::string&)> status)
      : service_(service), timeout_s_(timeout_s), status_(std::move(status)) {}

  // Starts draining; later calls change nothing. Thread-safe. Returns what happened, in a line.
  std::string start();
  bool draining() const { return started_.load(); }
  // Once a second on the main thread: true when the process should stop now.
  bool tick();

 private:
  RelayService& service_;
  uint32_t timeout_s_;
  std::function<void(const std::string&)> status_;
  std::mutex mu_;
  std::atomic<bool> started_{false};
  std::chrono::steady_clock::time_point deadline_;
  int64_t last_left_ = -1;
};

}  // namespace turnpike::net
