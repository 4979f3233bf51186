// The hash of the relay's tables (relay/open_table.h): addresses and channel numbers mixed with a
// per-worker secret key drawn from the core::Random the Server is given. A client chooses the peer
// addresses it asks for, so with a known hash it could make them collide on purpose; with a key
// it cannot aim, and the per-allocation caps (max-permissions, max-channels) bound a probe
// sequence in any case. Not a MAC: only collisions need to be unpredictable, and it runs per
// packet, so it is a few multiplications (a keyed variant of the murmur3 / splitmix finaliser).
#pragma once

#include <cstdint>
#include <cstring>

#include "core/random.h"
#include "relay/types.h"

namespace turnpike::relay {

struct HashKey {
  uint64_t k0 = 0x243F6A8885A308D3ull;
  uint64_t k1 = 0x13198A2E03707344ull;
  static HashKey from(core::Random& r) { return HashKey{r.next_u64(), r.next_u64() | 1}; }
};

inline uint64_t mix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDull;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ull;
  h ^= h >> 33;
  return h;
}

inline uint64_t keyed_hash(uint64_t v, const HashKey& k) { return mix64((v ^ k.k0) * k.k1); }

inline uint64_t keyed_hash(const IpAddress& ip, const HashKey& k) {
  uint64_t a, b;
  std::memcpy(&a, ip.data(), 8);
  std::memcpy(&b, ip.data() + 8, 8);
  return mix64(keyed_hash(a, k) ^ (b + uint64_t(ip.family())) * k.k1);
}

inline uint64_t keyed_hash(const SocketAddress& s, const HashKey& k) {
  return mix64(keyed_hash(s.ip(), k) ^ (uint64_t(s.port()) + 1) * k.k0);
}

inline uint64_t keyed_hash(const FiveTuple& t, const HashKey& k) {
  return mix64(keyed_hash(t.client, k) * 3 ^ keyed_hash(t.server, k) ^ uint64_t(t.transport));
}

}  // namespace turnpike::relay
