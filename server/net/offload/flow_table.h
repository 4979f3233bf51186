// One worker's share of the kernel fast path (DESIGN.md "Kernel fast path"): relay::ChannelOffload
// over the process's KernelOffload. The worker's slots are its own range of the flow array, so
// workers never contend; only the worker's thread calls this.
//
// A flow is written into its slot first and made reachable second (the two index entries);
// removal goes the other way. A removed slot is reused only kRetireTicks ticks later, when no
// program run that found it can still be going (and anything it counted meanwhile is reported as
// late, never lost silently).
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "net/offload/flow_layout.h"
#include "net/offload/kernel_offload.h"
#include "net/offload/route_lookup.h"
#include "relay/offload.h"

namespace turnpike::net {

class FlowTable final : public relay::ChannelOffload {
 public:
  struct Stats {
    uint64_t installed = 0;
    uint64_t removed = 0;
    uint64_t kept_in_user_space = 0;  // install() answered 0 (see why_* below)
    uint64_t not_udp = 0;             // TCP, TLS or DTLS clients
    uint64_t mixed_families = 0;      // the client and the peer of different families
    uint64_t no_route = 0;            // no interface toward the client or the peer, or local
    uint64_t full = 0;                // every slot of this worker in use
    uint64_t late_packets = 0;        // counted by the kernel after their flow's last read
    uint64_t active = 0;
  };

  // Slots [first, first + count) of `k`'s flow array belong to this table.
  FlowTable(KernelOffload& k, uint32_t first, uint32_t count);
  ~FlowTable() override;  // removes every flow still installed
  FlowTable(const FlowTable&) = delete;
  FlowTable& operator=(const FlowTable&) = delete;

  uint32_t install(const relay::Allocation& a, const relay::Channel& c, int64_t until_ms) override;
  void extend(uint32_t handle, int64_t until_ms) override;
  void collect(uint32_t handle, relay::OffloadCounts& out) override;
  void remove(uint32_t handle, relay::OffloadCounts& out) override;

  // Once a tick: the heartbeat, and slots removed kRetireTicks ago become free.
  void tick();
  const Stats& stats() const { return stats_; }

  static constexpr unsigned kRetireTicks = 2;

 private:
  struct Slot {
    tp_client_key client_key;
    tp_peer_key peer_key;
    // The counters as last read (the kernel's are running totals).
    uint64_t seen[4] = {};
    bool used = false;
  };
  struct Retired {
    uint32_t index;  // into slots_
    unsigned free_at_tick;
  };

  tp_flow& flow(uint32_t index) { return k_.flows()[first_ + index]; }
  // Adds what the kernel counted since the last read of slot `index` to `out`.
  void read_counters(uint32_t index, relay::OffloadCounts* out);
  bool resolve(const relay::Allocation& a, const relay::Channel& c, int64_t now_ms,
               uint32_t* client_ifindex, uint32_t* peer_ifindex);
  uint32_t index_of(uint32_t handle) const { return handle - 1 - first_; }

  KernelOffload& k_;
  const uint32_t first_;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
  std::deque<Retired> retired_;
  unsigned ticks_ = 0;
  RouteLookup routes_;
  Stats stats_;
};

}  // namespace turnpike::net
