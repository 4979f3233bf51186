#include "net/offload/flow_table.h"

#include <bpf/bpf.h>

#include <atomic>
#include <cstring>

#include "net/clock.h"

namespace turnpike::net {

namespace {

// The slots are shared with the program: every access is a single atomic one.
uint64_t load(__u64& v) {
  return std::atomic_ref<__u64>(v).load(std::memory_order_relaxed);
}

template <typename T>
void store(T& v, uint64_t value) {
  std::atomic_ref<T>(v).store(T(value), std::memory_order_relaxed);
}

uint64_t deadline_ns(int64_t until_ms) {
  // The relay's monotonic milliseconds (clock.h, CLOCK_MONOTONIC_COARSE) and the program's
  // bpf_ktime_get_ns() count from the same origin.
  return until_ms <= 0 ? 0 : uint64_t(until_ms) * 1'000'000u;
}

void copy_ip(uint8_t* out, const core::IpAddress& ip) {
  std::memset(out, 0, 16);
  std::memcpy(out, ip.data(), ip.size());
}

core::IpAddress ip_of(const uint8_t* bytes, uint8_t family) {
  return family == TP_FAMILY_V4 ? core::IpAddress::v4(bytes) : core::IpAddress::v6(bytes);
}

__be16 be16(uint16_t v) {
  return __be16(uint16_t((v >> 8) | (v << 8)));
}

}  // namespace

FlowTable::FlowTable(KernelOffload& k, uint32_t first, uint32_t count)
    : k_(k), first_(first), slots_(count) {
  free_.reserve(count);
  for (uint32_t i = count; i > 0; --i) free_.push_back(i - 1);
}

FlowTable::~FlowTable() {
  relay::OffloadCounts ignored;
  for (uint32_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i].used) remove(first_ + i + 1, ignored);
  }
}

bool FlowTable::resolve(const relay::Allocation& a, const relay::Channel& c, int64_t now_ms,
                        uint32_t* client_ifindex, uint32_t* peer_ifindex) {
  const relay::RelayEndpoint* ep = a.relay_for(c.peer.family());
  if (!ep) return false;
  *client_ifindex =
      uint32_t(routes_.egress_ifindex(a.five_tuple.client.ip(), a.five_tuple.server.ip(), now_ms));
  *peer_ifindex = uint32_t(routes_.egress_ifindex(c.peer.ip(), ep->bound.ip(), now_ms));
  return *client_ifindex != 0 && *peer_ifindex != 0;
}

uint32_t FlowTable::install(const relay::Allocation& a, const relay::Channel& c,
                            int64_t until_ms) {
  const relay::RelayEndpoint* ep = a.relay_for(c.peer.family());
  uint32_t client_ifindex = 0, peer_ifindex = 0;
  uint64_t* reason = nullptr;
  if (a.five_tuple.transport != relay::Transport::Udp) {
    reason = &stats_.not_udp;  // ChannelData over TCP/TLS is framed, over DTLS encrypted
  } else if (!ep || a.five_tuple.client.family() != c.peer.family()) {
    reason = &stats_.mixed_families;  // would need IPv4/IPv6 translation
  } else if (!resolve(a, c, now().mono_ms, &client_ifindex, &peer_ifindex)) {
    reason = &stats_.no_route;
  } else if (free_.empty()) {
    reason = &stats_.full;
  }
  if (reason) {
    ++*reason;
    ++stats_.kept_in_user_space;
    return 0;
  }

  const uint32_t index = free_.back();
  Slot& s = slots_[index];
  const uint8_t family = c.peer.ip().is_v4() ? TP_FAMILY_V4 : TP_FAMILY_V6;
  tp_flow& f = flow(index);
  store(f.expires_ns, 0);
  f.family = family;
  f.channel = be16(c.number);
  f.client_ifindex = client_ifindex;
  f.peer_ifindex = peer_ifindex;
  f.client_port = be16(a.five_tuple.client.port());
  f.server_port = be16(a.five_tuple.server.port());
  f.relay_port = be16(ep->bound.port());
  f.peer_port = be16(c.peer.port());
  copy_ip(f.client_ip, a.five_tuple.client.ip());
  copy_ip(f.server_ip, a.five_tuple.server.ip());
  copy_ip(f.relay_ip, ep->bound.ip());
  copy_ip(f.peer_ip, c.peer.ip());
  store(f.to_peer_packets, 0);
  store(f.to_peer_bytes, 0);
  store(f.to_client_packets, 0);
  store(f.to_client_bytes, 0);
  store(f.expires_ns, deadline_ns(until_ms));

  s.client_key = tp_client_key{};
  s.client_key.family = family;
  s.client_key.channel = f.channel;
  s.client_key.client_port = f.client_port;
  s.client_key.server_port = f.server_port;
  std::memcpy(s.client_key.client_ip, f.client_ip, 16);
  std::memcpy(s.client_key.server_ip, f.server_ip, 16);
  s.peer_key = tp_peer_key{};
  s.peer_key.family = family;
  s.peer_key.peer_port = f.peer_port;
  s.peer_key.relay_port = f.relay_port;
  std::memcpy(s.peer_key.peer_ip, f.peer_ip, 16);
  std::memcpy(s.peer_key.relay_ip, f.relay_ip, 16);
  std::memset(s.seen, 0, sizeof s.seen);

  // The slot is complete; now the program can find it.
  const uint32_t global = first_ + index;
  if (bpf_map_update_elem(k_.client_index_fd(), &s.client_key, &global, BPF_ANY) != 0) {
    store(f.expires_ns, 0);
    ++stats_.full;
    ++stats_.kept_in_user_space;
    return 0;
  }
  if (bpf_map_update_elem(k_.peer_index_fd(), &s.peer_key, &global, BPF_ANY) != 0) {
    bpf_map_delete_elem(k_.client_index_fd(), &s.client_key);
    store(f.expires_ns, 0);
    ++stats_.full;
    ++stats_.kept_in_user_space;
    return 0;
  }
  free_.pop_back();
  s.used = true;
  ++stats_.installed;
  ++stats_.active;
  return global + 1;
}

void FlowTable::extend(uint32_t handle, int64_t until_ms) {
  const uint32_t index = index_of(handle);
  if (index >= slots_.size() || !slots_[index].used) return;
  tp_flow& f = flow(index);
  // Routes may have changed since the flow was installed: a refresh follows them.
  const int64_t now_ms = now().mono_ms;
  const int client = routes_.egress_ifindex(ip_of(f.client_ip, f.family), ip_of(f.server_ip, f.family), now_ms);
  const int peer = routes_.egress_ifindex(ip_of(f.peer_ip, f.family), ip_of(f.relay_ip, f.family), now_ms);
  if (client == 0 || peer == 0) {
    store(f.expires_ns, 0);  // nowhere to send it now: user space relays until the next refresh
    return;
  }
  store(f.client_ifindex, uint32_t(client));
  store(f.peer_ifindex, uint32_t(peer));
  store(f.expires_ns, deadline_ns(until_ms));
}

void FlowTable::read_counters(uint32_t index, relay::OffloadCounts* out) {
  tp_flow& f = flow(index);
  Slot& s = slots_[index];
  const uint64_t now[4] = {load(f.to_peer_packets), load(f.to_peer_bytes),
                           load(f.to_client_packets), load(f.to_client_bytes)};
  if (out) {
    out->to_peer.packets += now[0] - s.seen[0];
    out->to_peer.bytes += now[1] - s.seen[1];
    out->to_client.packets += now[2] - s.seen[2];
    out->to_client.bytes += now[3] - s.seen[3];
  } else {
    stats_.late_packets += (now[0] - s.seen[0]) + (now[2] - s.seen[2]);
  }
  std::memcpy(s.seen, now, sizeof now);
}

void FlowTable::collect(uint32_t handle, relay::OffloadCounts& out) {
  const uint32_t index = index_of(handle);
  if (index >= slots_.size() || !slots_[index].used) return;
  read_counters(index, &out);
}

void FlowTable::remove(uint32_t handle, relay::OffloadCounts& out) {
  const uint32_t index = index_of(handle);
  if (index >= slots_.size() || !slots_[index].used) return;
  Slot& s = slots_[index];
  // Unreachable first, then stopped, then read: a program run that found the slot just before
  // sees the deadline gone, or has counted by the time of the read (or, within the same
  // microsecond, is counted as late when the slot is freed).
  bpf_map_delete_elem(k_.client_index_fd(), &s.client_key);
  bpf_map_delete_elem(k_.peer_index_fd(), &s.peer_key);
  store(flow(index).expires_ns, 0);
  read_counters(index, &out);
  s.used = false;
  retired_.push_back({index, ticks_ + kRetireTicks});
  ++stats_.removed;
  --stats_.active;
}

void FlowTable::tick() {
  ++ticks_;
  k_.heartbeat();
  while (!retired_.empty() && retired_.front().free_at_tick <= ticks_) {
    const uint32_t index = retired_.front().index;
    retired_.pop_front();
    read_counters(index, nullptr);
    free_.push_back(index);
  }
}

}  // namespace turnpike::net
