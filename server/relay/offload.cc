// The relay's side of the kernel fast path (relay/offload.h, DESIGN.md "Kernel fast path"): a
// channel bound to a permitted peer is mirrored into the kernel with the earlier of the two
// deadlines, refreshed when either is, and taken back when either expires or the allocation
// ends; what the kernel relayed is added to the same counters user space keeps.
#include <algorithm>
#include <cstdint>

#include "relay/server.h"

namespace turnpike::relay {

void Server::offload_channel(Allocation& a, Channel& c) {
  if (!offload_) return;
  const Permission* p = a.find_permission(c.peer.ip());
  if (!p) return;
  // RFC 8656 §9, §12: ChannelData relays while both the channel and the permission last.
  const int64_t until = std::min(c.expires_ms, p->expires_ms);
  if (c.offload) {
    offload_->extend(c.offload, until);
    return;
  }
  c.offload = offload_->install(a, c, until);
  if (c.offload && a.offloaded_channels++ == 0) {
    a.offloaded_index = uint32_t(offloaded_.size());
    offloaded_.push_back(&a);
  }
}

void Server::count_offloaded(Allocation& a, const Channel& c, const OffloadCounts& n) {
  a.from_client.add(n.to_peer);
  a.to_client.add(n.to_client);
  if (Permission* p = a.find_permission(c.peer.ip())) {
    p->to_peer.add(n.to_peer);
    p->from_peer.add(n.to_client);
  }
}

void Server::unoffload_channel(Allocation& a, Channel& c) {
  if (!c.offload) return;
  OffloadCounts n;
  remove_offload(a, c, n);
  count_offloaded(a, c, n);
}

void Server::remove_offload(Allocation& a, Channel& c, OffloadCounts& n) {
  offload_->remove(c.offload, n);
  c.offload = 0;
  if (--a.offloaded_channels == 0) {
    Allocation* last = offloaded_.back();
    offloaded_[a.offloaded_index] = last;
    last->offloaded_index = a.offloaded_index;
    offloaded_.pop_back();
  }
}

void Server::collect_offloaded(Allocation& a) {
  if (!offload_ || !a.offloaded_channels) return;
  a.channels.for_each([&](Channel& c) {
    if (!c.offload) return;
    OffloadCounts n;
    offload_->collect(c.offload, n);
    count_offloaded(a, c, n);
  });
}

void Server::collect_offloaded() {
  if (!offload_) return;
  for (Allocation* a : offloaded_) collect_offloaded(*a);
}

}  // namespace turnpike::relay
