// The kernel fast path as the relay sees it (DESIGN.md "Kernel fast path"). The relay decides
// everything; an offload only mirrors one decision, "this channel is bound to a permitted peer
// until then", so that its ChannelData can be relayed without user space, and gives back what it
// relayed. net implements it (net/offload/flow_table.h); without one, nothing changes.
#pragma once

#include <cstdint>

#include "relay/allocation.h"

namespace turnpike::relay {

// What the kernel relayed for one channel since it was last asked: ChannelData payload from the
// client to the peer, and peer payload to the client (the same bytes the relay counts itself).
struct OffloadCounts {
  TrafficCounters to_peer;
  TrafficCounters to_client;
};

class ChannelOffload {
 public:
  virtual ~ChannelOffload() = default;
  // Channel `c` of `a` is bound and its peer permitted until `until_ms` (monotonic, the earlier
  // of the two expiries): relay its ChannelData until then. Returns a handle, or 0 when this
  // channel stays in user space (not a UDP client, client and peer of different families, the
  // table is full, the peer is on this host, ...); the relay then simply keeps relaying it.
  virtual uint32_t install(const Allocation& a, const Channel& c, int64_t until_ms) = 0;
  // A refresh: the new deadline (RFC 8656 §9.2, §12.2).
  virtual void extend(uint32_t handle, int64_t until_ms) = 0;
  // Adds to `out` what the kernel relayed since the last collect() of this handle.
  virtual void collect(uint32_t handle, OffloadCounts& out) = 0;
  // The kernel stops relaying this channel; `out` gets the last counts. The handle is invalid
  // afterwards.
  virtual void remove(uint32_t handle, OffloadCounts& out) = 0;
};

}  // namespace turnpike::relay
