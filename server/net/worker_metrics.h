// What /metrics reports about one worker (DESIGN.md "Operating it"). The worker keeps its own
// counters as plain integers that only its thread touches: nothing is shared, locked or written
// per packet for metrics. Per-packet figures (bytes and packets relayed) are not counted here at
// all: the allocations already count them, so a scrape asks each worker, through its mailbox, for
// a snapshot (its own thread sums its live allocations, after folding in what the kernel fast
// path relayed, and adds the totals of the sessions that ended). The scrape adds the snapshots.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "relay/allocation.h"
#include "relay/events.h"

namespace turnpike::relay {
class Server;
}

namespace turnpike::net {

constexpr size_t kTransports = 4;    // relay::Transport
constexpr size_t kFamilies = 3;      // relayed addresses: ipv4, ipv6, both (a dual allocation)
constexpr size_t kMaxReasons = 32;   // room for end and refusal reasons added later
const char* family_label(size_t f);  // "ipv4", "ipv6", "dual"

// A cumulative histogram with fixed bucket bounds (OpenMetrics: each bucket counts what is <= le).
struct Histogram {
  static constexpr size_t kMaxBuckets = 12;
  const double* bounds = nullptr;  // ascending, `size` of them; +Inf is implied
  size_t size = 0;
  std::array<uint64_t, kMaxBuckets>
      counts{};           // not cumulative: counts[i] is (bounds[i-1], bounds[i]]
  uint64_t overflow = 0;  // above the last bound
  uint64_t count = 0;
  double sum = 0;

  void observe(double v);
  void add(const Histogram& o);
};
// Session duration in seconds, and bytes relayed per session (both ways).
const Histogram& duration_buckets();
const Histogram& bytes_buckets();

struct MetricsSnapshot {
  std::array<std::array<uint64_t, kFamilies>, kTransports> allocations_now{};
  std::array<uint64_t, kTransports> allocations_started{};
  std::array<uint64_t, kMaxReasons> allocations_ended{};  // by relay::EndReason
  std::array<uint64_t, kMaxReasons> refusals{};           // by relay::RefusalReason
  // Relayed, live and ended sessions together, user space and kernel: from clients to peers
  // (ChannelData, Send, RFC 6062 data) and from peers to clients.
  std::array<relay::TrafficCounters, kTransports> to_peer{}, to_client{};
  uint64_t dropped_no_permission = 0;
  uint64_t malformed = 0;
  uint64_t unauth_rate_limited = 0;
  Histogram duration = duration_buckets();
  Histogram bytes = bytes_buckets();

  struct Worker {
    unsigned index = 0;
    uint64_t allocations = 0;
    double cpu_seconds = 0;
  };
  std::vector<Worker> workers;  // one entry per worker that answered

  void add(const MetricsSnapshot& o);
};

class WorkerMetrics final : public relay::EventSink {
 public:
  // Further sinks (the ledger) see every event too.
  void chain(relay::EventSink* next) { next_ = next; }

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

  // On the worker's thread: its counters plus the live allocations of `server` (whose kernel
  // counters are collected first) into `out` (a snapshot of this worker alone).
  void snapshot(relay::Server& server, unsigned worker_index, MetricsSnapshot* out) const;
  // What the events alone counted (no live allocations).
  const MetricsSnapshot& counted() const { return ended_; }

 private:
  relay::EventSink* next_ = nullptr;
  MetricsSnapshot ended_;  // started/ended/refusals, and the traffic of sessions that ended
};

// Which family label an allocation counts under.
size_t allocation_family(const relay::Allocation& a);

}  // namespace turnpike::net
