// One allocation (RFC 8656 §2.2, §6): its 5-tuple, relayed addresses, permissions, channels,
// counters, and the last responses for retransmissions. Everything an allocation owns is here;
// sizes are kept small (a few hundred bytes plus its permission and channel tables, which grow
// with what it holds up to max-permissions and max-channels).
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "core/long_term_key.h"
#include "relay/channel_table.h"
#include "relay/permission_table.h"
#include "relay/timer_wheel.h"
#include "relay/traffic_counters.h"
#include "relay/types.h"

namespace turnpike::relay {

struct RelayEndpoint {
  RelaySocket* socket = nullptr;
  SocketAddress bound;      // what the relay socket is bound to
  SocketAddress announced;  // what XOR-RELAYED-ADDRESS says (external-ip applied)
};

// The last responses sent on this allocation, so that a retransmitted request gets the very
// same answer and is not executed twice (RFC 8489 §6.3.4, RFC 8656 §7.2).
struct CachedResponse {
  static constexpr size_t kMaxSize = 200;
  std::array<uint8_t, 12> transaction_id{};
  uint16_t size = 0;
  std::array<uint8_t, kMaxSize> bytes{};
};

// The allocation is on its worker's TimerWheel at its earliest deadline: its own expiry, a
// permission's, a channel's end of binding or of cooling (Server::next_deadline).
struct Allocation : TimerHook {
  Allocation() : TimerHook(kTimerAllocation) {}
  uint64_t id = 0;  // session id, unique in this process (worker in the top byte)
  FiveTuple five_tuple;
  ClientRef client;
  std::string username;
  core::LongTermKey key;
  bool authenticated = false;  // false only under no-auth
  bool sha256 = false;
  bool fingerprint = false;  // the client uses FINGERPRINT: answer with it too
  bool dont_fragment = false;
  // RFC 6062: a TCP allocation (REQUESTED-TRANSPORT TCP). Its relay sockets listen for peers;
  // data goes over peer connections (tcp_connections), never as ChannelData or Send/Data.
  bool tcp = false;
  bool refused_send_logged = false;  // one refusal line per allocation for Send floods

  std::array<RelayEndpoint, 2> relays{};  // [0] and, for a dual allocation, [1]
  uint8_t relay_count = 0;

  int64_t started_unix_ms = 0;
  int64_t expires_ms = 0;
  uint32_t lifetime_s = 0;
  std::array<uint8_t, 12> allocate_transaction_id{};
  std::optional<uint64_t> reservation_token;  // granted with EVEN-PORT R=1
  uint16_t family_error = 0;                  // dual allocation: why the second family failed
  Family failed_family = Family::V6;
  std::string quota_key;

  PermissionTable permissions;  // by peer IP (RFC 8656 §9)
  ChannelTable channels;        // by number and by peer (RFC 8656 §12)
  std::vector<uint32_t> tcp_connections;  // CONNECTION-IDs of its peer connections (RFC 6062)
  // Relayed to peers: ChannelData and Send indications, or bytes of TCP data connections (one
  // "packet" per read). And back to the client.
  TrafficCounters from_client;
  TrafficCounters to_client;
  uint64_t dropped = 0;  // packets dropped for want of a permission or channel
  // Channels the kernel fast path relays now, and this allocation's place in the Server's list
  // of allocations that have any (so that collecting walks only those).
  uint32_t offloaded_channels = 0;
  uint32_t offloaded_index = 0;

  std::array<CachedResponse, 2> cache{};
  uint8_t cache_next = 0;

  const RelayEndpoint* relay_for(Family f) const {
    for (uint8_t i = 0; i < relay_count; ++i) {
      if (relays[i].bound.family() == f) return &relays[i];
    }
    return nullptr;
  }
  bool has_family(Family f) const { return relay_for(f) != nullptr; }

  // The worker's table key (relay/keyed_hash.h); set once, before anything is inserted.
  void set_hash_key(const HashKey* k) {
    permissions.set_hash_key(k);
    channels.set_hash_key(k);
  }
  Permission* find_permission(const IpAddress& ip) { return permissions.find(ip); }
  Channel* find_channel(uint16_t number) { return channels.find(number); }
  Channel* find_channel(const SocketAddress& peer) { return channels.find(peer); }

  const CachedResponse* cached(const uint8_t* txid) const {
    for (const auto& c : cache) {
      if (c.size && std::memcmp(c.transaction_id.data(), txid, 12) == 0) return &c;
    }
    return nullptr;
  }
  void remember(const uint8_t* txid, const uint8_t* bytes, size_t n) {
    if (n > CachedResponse::kMaxSize) return;
    CachedResponse& c = cache[cache_next];
    cache_next = uint8_t((cache_next + 1) % cache.size());
    std::memcpy(c.transaction_id.data(), txid, 12);
    std::memcpy(c.bytes.data(), bytes, n);
    c.size = uint16_t(n);
  }
};

}  // namespace turnpike::relay
