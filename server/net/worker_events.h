// A worker's relay::EventSink: one log line per session event and per refusal. Refusal lines
// are rate-limited per worker so that a flood of bad requests cannot flood the log.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>

#include "relay/events.h"

namespace turnpike::net {

class WorkerEvents : public relay::EventSink {
 public:
  explicit WorkerEvents(std::string realm) : realm_(std::move(realm)) {}

  void session_started(const relay::Allocation& a, const relay::Now& now) override;
  void session_refreshed(const relay::Allocation& a, uint32_t lifetime_s,
                         const relay::Now& now) override;
  void permission_installed(const relay::Allocation& a, const relay::IpAddress& peer,
                            const relay::Now& now) override;
  void channel_bound(const relay::Allocation& a, uint16_t channel, const relay::SocketAddress& peer,
                     const relay::Now& now) override;
  void session_ended(const relay::Allocation& a, relay::EndReason why,
                     const relay::Now& now) override;
  void refused(const relay::Refusal& r) override;
  void session_restored(const relay::Allocation& a, const relay::Now& now) override {
    if (next_) next_->session_restored(a, now);
  }
  void session_handed_over(const relay::Allocation& a, const relay::Now& now) override {
    if (next_) next_->session_handed_over(a, now);
  }

  // Further sinks (the ledger) see every event too.
  void chain(relay::EventSink* next) { next_ = next; }

 private:
  // Log lines per second for one class of refusals; beyond, they are counted and the count is
  // logged (folded) when the next second begins.
  struct Budget {
    const char* what;
    int64_t window_start_ms = 0;
    unsigned lines = 0;
    uint64_t suppressed = 0;
  };
  static bool take(Budget& b, int64_t now_ms);
  std::string realm_;
  relay::EventSink* next_ = nullptr;
  Budget strangers_{"refusals of unauthenticated requests"};
  Budget holders_{"refusals of authenticated users' requests"};
};

}  // namespace turnpike::net
