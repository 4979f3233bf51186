// Hand-over of allocations between two processes (DESIGN.md "Restart and upgrade without
// dropping calls"): a running turnpike exports what each UDP client's allocation holds, the
// process taking over restores it around the very same relay sockets, so the client keeps its
// relayed address (RFC 8656 §2.2: the allocation is its 5-tuple and relayed address), its
// permissions (§9) and channels (§12), and the ledger keeps one session.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "relay/server.h"

namespace turnpike::relay {

bool Server::can_hand_over(const Allocation& a) {
  return a.five_tuple.transport == Transport::Udp && !a.tcp && a.relay_count > 0;
}

core::HandoverAllocation Server::export_allocation(
    Allocation& a, uint16_t worker, const std::function<uint32_t(RelaySocket*)>& fd_of) {
  collect_offloaded(a);  // the kernel's share of the counters, before they are written down
  core::HandoverAllocation h;
  h.worker = worker;
  h.id = a.id;
  h.client = a.five_tuple.client;
  h.server = a.five_tuple.server;
  h.username = a.username;
  h.key_algorithm = a.key.algorithm;
  h.key = a.key.bytes;
  h.authenticated = a.authenticated;
  h.sha256 = a.sha256;
  h.fingerprint = a.fingerprint;
  h.dont_fragment = a.dont_fragment;
  for (uint8_t i = 0; i < a.relay_count; ++i) {
    h.relays.push_back({fd_of(a.relays[i].socket), a.relays[i].bound, a.relays[i].announced});
  }
  h.started_unix_ms = a.started_unix_ms;
  h.expires_ms = a.expires_ms;
  h.lifetime_s = a.lifetime_s;
  h.allocate_transaction_id = a.allocate_transaction_id;
  h.family_error = a.family_error;
  h.failed_family = a.failed_family;
  h.quota_key = a.quota_key;
  a.permissions.for_each([&](const Permission& p) {
    h.permissions.push_back({p.peer,
                             p.expires_ms,
                             {p.to_peer.bytes, p.to_peer.packets},
                             {p.from_peer.bytes, p.from_peer.packets}});
  });
  a.channels.for_each([&](const Channel& c) {
    h.channels.push_back({c.number, c.peer, c.expires_ms});
  });
  h.from_client = {a.from_client.bytes, a.from_client.packets};
  h.to_client = {a.to_client.bytes, a.to_client.packets};
  h.dropped = a.dropped;
  return h;
}

void Server::release_handed_over(const Now& now) {
  for (auto it = allocations_.begin(); it != allocations_.end();) {
    Allocation& a = *it->second;
    ++it;  // erasing `a` leaves other iterators valid
    if (!can_hand_over(a)) {
      end_allocation(a, EndReason::Shutdown, now);
      continue;
    }
    // Its kernel flows were counted at export; the next process installs its own.
    a.channels.for_each([&](Channel& c) {
      if (c.offload) {
        OffloadCounts ignored;
        remove_offload(a, c, ignored);
      }
    });
    events_.session_handed_over(a, now);
    // Closes this process's descriptors only: the process that took over holds its own.
    for (uint8_t i = 0; i < a.relay_count; ++i) io_.close_relay(a.relays[i].socket);
    quotas_.release(a.quota_key);
    const FiveTuple key = a.five_tuple;
    allocations_.erase(key);
  }
}

std::string Server::restore(const core::HandoverAllocation& h, const ClientRef& client,
                            const Now& now) {
  const FiveTuple tuple{h.client, h.server, Transport::Udp};
  if (allocations_.count(tuple)) return "allocation of " + h.client.to_string() + " twice";
  auto a = std::make_unique<Allocation>();
  a->set_hash_key(&hash_key_);
  a->id = h.id;
  a->five_tuple = tuple;
  a->client = client;
  a->username = h.username;
  a->key.algorithm = h.key_algorithm;
  a->key.bytes = h.key;
  a->authenticated = h.authenticated;
  a->sha256 = h.sha256;
  a->fingerprint = h.fingerprint;
  a->dont_fragment = h.dont_fragment;
  a->started_unix_ms = h.started_unix_ms;
  a->expires_ms = h.expires_ms;
  a->lifetime_s = h.lifetime_s;
  a->allocate_transaction_id = h.allocate_transaction_id;
  a->family_error = h.family_error;
  a->failed_family = h.failed_family;
  a->quota_key = h.quota_key;
  for (const auto& p : h.permissions) {
    Permission q;
    q.peer = p.peer;
    q.expires_ms = p.expires_ms;
    q.to_peer = {p.to_peer.bytes, p.to_peer.packets};
    q.from_peer = {p.from_peer.bytes, p.from_peer.packets};
    // Inserted whatever max-permissions says now: they were granted under the old limit.
    if (a->find_permission(q.peer) || !a->permissions.insert(q)) {
      return "allocation of " + h.client.to_string() + ": permission for " + q.peer.to_string() +
             " twice or too many";
    }
  }
  for (const auto& c : h.channels) {
    if (a->find_channel(c.number) || a->find_channel(c.peer)) {
      return "allocation of " + h.client.to_string() + ": channel bound twice";
    }
    if (!a->channels.insert(Channel{c.number, c.peer, c.expires_ms, 0})) {
      return "allocation of " + h.client.to_string() + ": too many channels";
    }
  }
  a->from_client = {h.from_client.bytes, h.from_client.packets};
  a->to_client = {h.to_client.bytes, h.to_client.packets};
  a->dropped = h.dropped;
  for (const auto& r : h.relays) {
    RelaySocket* s = io_.adopt_relay(*a, a->relay_count, r.fd);
    if (!s) {
      for (uint8_t k = 0; k < a->relay_count; ++k) io_.close_relay(a->relays[k].socket);
      return "allocation of " + h.client.to_string() + ": relay socket " + std::to_string(r.fd) +
             " missing";
    }
    a->relays[a->relay_count++] = RelayEndpoint{s, r.bound, r.announced};
  }
  quotas_.add_existing(a->quota_key);
  Allocation& ref = *a;
  allocations_.emplace(tuple, std::move(a));
  // RFC 8656 §12: ChannelData of bound channels may go through the kernel again.
  ref.channels.for_each([&](Channel& c) {
    if (c.expires_ms > now.mono_ms) offload_channel(ref, c);
  });
  rearm(ref, now.mono_ms);  // on the wheel at its earliest deadline, as if made here
  events_.session_restored(ref, now);
  return {};
}

std::vector<uint64_t> Server::export_stats() const {
  return {stats_.malformed,
          stats_.unauth_rate_limited,
          stats_.no_permission,
          stats_.allocations_created,
          stats_.tcp_connections,
          stats_.tcp_refused,
          stats_.oversized_unauthenticated,
          stats_.relayed};
}

void Server::restore_counters(uint64_t next_session, const std::vector<uint64_t>& s) {
  next_session_ = std::max(next_session_, next_session);
  uint64_t* fields[] = {&stats_.malformed,
                        &stats_.unauth_rate_limited,
                        &stats_.no_permission,
                        &stats_.allocations_created,
                        &stats_.tcp_connections,
                        &stats_.tcp_refused,
                        &stats_.oversized_unauthenticated,
                        &stats_.relayed};
  for (size_t i = 0; i < s.size() && i < std::size(fields); ++i) *fields[i] = s[i];
}

}  // namespace turnpike::relay
