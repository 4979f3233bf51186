// The worker's side of the ledger: events go into a ring the writer thread empties, never
// waiting for it (ledger_writer.h).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <variant>
#include <vector>

#include "ledger/ledger_event.h"
#include "ledger/record_ring.h"

namespace turnpike::ledger {

// One per worker, used by that worker's thread only (the writer drains its ring): the ring, a
// backlog for bursts the ring cannot take at once (a mass expiry, a shutdown), and what had to
// be dropped, per kind.
class Producer {
 public:
  // Sized for 100,000 allocations on one worker with the default settings: a progress tick
  // hands over a thirtieth of them (about 3,400 updates and as many peer records, ~0.5 MB) and
  // the writer empties the ring every 10 ms. The pages are touched only when used.
  static constexpr size_t kRingBytes = size_t(2) << 20;
  // Allocated only while a burst is larger than the ring; freed once it has gone through.
  static constexpr size_t kBacklogBytes = size_t(16) << 20;

  explicit Producer(size_t ring_bytes = kRingBytes, size_t backlog_bytes = kBacklogBytes)
      : ring(ring_bytes), backlog_max_(backlog_bytes) {}

  // Never waits: the event goes to the ring, or behind what waits in the backlog; it is dropped
  // (and counted) only when both are full. Returns false when dropped.
  template <typename E>
  bool push(const E& e) {
    static_assert(kIsEvent<E>);
    return push_bytes(&e, e.size(), E::kKind);
  }
  bool push(const LedgerEvent& e) {
    return std::visit([this](const auto& x) { return push(x); }, e);
  }
  // While shutting down: waits for the writer to make room, but only until `deadline`, one
  // deadline for all the pushes of a shutdown so that the total wait is bounded; then as push().
  template <typename E>
  bool push_until(const E& e, std::chrono::steady_clock::time_point deadline) {
    static_assert(kIsEvent<E>);
    return push_waiting(&e, e.size(), E::kKind, deadline);
  }
  // Moves what the backlog holds into the ring, as far as there is room. The worker calls it
  // every tick; the writer calls it once the workers have stopped.
  void flush();

  uint64_t dropped(EventKind k) const {
    return dropped_[size_t(k)].load(std::memory_order_relaxed);
  }
  uint64_t dropped_total() const;
  size_t backlog_bytes() const { return backlog_.size() - backlog_head_; }

  RecordRing ring;

 private:
  bool push_bytes(const void* e, size_t size, EventKind kind);
  bool push_waiting(const void* e, size_t size, EventKind kind,
                    std::chrono::steady_clock::time_point deadline);
  bool backlog_empty() const { return backlog_head_ == backlog_.size(); }

  std::array<std::atomic<uint64_t>, kEventKinds> dropped_{};
  std::vector<std::byte> backlog_;  // records in the ring's format, oldest at backlog_head_
  size_t backlog_head_ = 0;
  size_t backlog_max_;
};

}  // namespace turnpike::ledger
