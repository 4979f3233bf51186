// Turns a worker's relay events into ledger records on the worker's ring. Never blocks while
// relaying: a full ring puts the record in the producer's backlog, and only a full backlog
// drops it (counted by kind). While the server shuts down it waits for room instead, within one
// deadline for the whole shutdown, so that the final record of every session reaches the ledger.
//
// The counters of long sessions reach the ledger every kProgressTicks ticks, spread over them:
// each session belongs to one of kProgressTicks groups (round robin at its start), and each tick
// hands over one group. A worker with N sessions writes N/30 updates a second, never N at once.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ledger/ledger_writer.h"
#include "relay/events.h"

namespace turnpike::net {

class LedgerSink : public relay::EventSink {
 public:
  static constexpr unsigned kProgressTicks = 30;

  explicit LedgerSink(ledger::Producer& p) : producer_(p) {}

  void session_started(const relay::Allocation& a, const relay::Now& now) override;
  void session_ended(const relay::Allocation& a, relay::EndReason why,
                     const relay::Now& now) override;
  void refused(const relay::Refusal& r) override;
  void session_restored(const relay::Allocation& a, const relay::Now& now) override;
  void session_handed_over(const relay::Allocation& a, const relay::Now& now) override;

  // Once a tick (about a second): the progress of one group of sessions, and what the
  // producer's backlog holds.
  void tick(const relay::Now& now);
  // From now on every push waits for room, until `deadline` at most (for all of them together).
  void set_shutting_down(std::chrono::steady_clock::time_point deadline) {
    shutting_down_ = true;
    deadline_ = deadline;
  }
  size_t sessions() const { return places_.size(); }
  // Called for each session just before its progress is recorded: the kernel fast path adds
  // what it relayed to the counters there (Worker::attach_offload).
  void set_before_progress(std::function<void(const relay::Allocation&)> f) {
    before_progress_ = std::move(f);
  }

 private:
  void session_progress(const relay::Allocation& a, const relay::Now& now);
  void track(const relay::Allocation& a);  // into a progress group
  void untrack(const relay::Allocation& a);
  void push_peers(const relay::Allocation& a, const relay::Now& now);
  template <typename E>
  void push(const E& e) {
    if (shutting_down_) {
      producer_.push_until(e, deadline_);
    } else {
      producer_.push(e);
    }
  }

  ledger::Producer& producer_;
  std::function<void(const relay::Allocation&)> before_progress_;
  bool shutting_down_ = false;
  std::chrono::steady_clock::time_point deadline_;
  // Sessions by progress group. An allocation stays at its address from session_started to
  // session_ended (the relay owns it through a pointer), so the groups hold pointers.
  struct Place {
    uint8_t group = 0;
    uint32_t index = 0;
  };
  std::array<std::vector<const relay::Allocation*>, kProgressTicks> groups_;
  std::unordered_map<const relay::Allocation*, Place> places_;
  unsigned next_group_ = 0;
  unsigned ticks_ = 0;
  // Reused: a start or an end is a few hundred bytes, better not on the stack each time.
  ledger::SessionStart start_;
  ledger::SessionEnd end_;
  ledger::SessionPeers peers_;
  ledger::Refusal refusal_;
};

}  // namespace turnpike::net
