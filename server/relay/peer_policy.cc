#include "relay/peer_policy.h"

#include <cstdint>
#include <cstring>

namespace turnpike::relay {
namespace {

bool prefix(const IpAddress& a, std::initializer_list<uint8_t> bytes, unsigned bits) {
  const uint8_t* d = a.data();
  unsigned i = 0;
  for (uint8_t b : bytes) {
    const unsigned remaining = bits > i * 8 ? bits - i * 8 : 0;
    if (remaining == 0) break;
    const uint8_t mask = remaining >= 8 ? 0xFF : uint8_t(0xFF << (8 - remaining));
    if ((d[i] & mask) != (b & mask)) return false;
    ++i;
  }
  return true;
}

bool all_zero(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (p[i]) return false;
  }
  return true;
}

bool in_any(const std::vector<core::IpRange>& ranges, const IpAddress& a) {
  for (const auto& r : ranges) {
    if (r.contains(a)) return true;
  }
  return false;
}

}  // namespace

IpAddress PeerPolicy::canonicalize(const IpAddress& a) {
  if (a.is_v4()) return a;
  const uint8_t* d = a.data();
  // ::ffff:a.b.c.d (RFC 4291 §2.5.5.2), the encoding of CVE-2026-27624.
  if (all_zero(d, 10) && d[10] == 0xFF && d[11] == 0xFF) return IpAddress::v4(d + 12);
  // ::a.b.c.d (deprecated IPv4-compatible, RFC 4291 §2.5.5.1); :: and ::1 are not IPv4.
  if (all_zero(d, 12) && !(all_zero(d + 12, 3) && d[15] <= 1)) return IpAddress::v4(d + 12);
  // 64:ff9b::a.b.c.d, the NAT64 well-known prefix (RFC 6052 §2.1).
  static const uint8_t kNat64[12] = {0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  if (std::memcmp(d, kNat64, 12) == 0) return IpAddress::v4(d + 12);
  return a;
}

PeerDecision PeerPolicy::builtin(const IpAddress& original, const IpAddress& c) const {
  if (c.is_v4()) {
    const uint32_t v = c.v4_value();
    const uint8_t first = uint8_t(v >> 24);
    if (first == 0) return {false, "unspecified (0.0.0.0/8)"};
    if (first == 127) {
      if (!o_.allow_loopback) return {false, "loopback"};
    } else if ((v & 0xFFFF0000u) == 0xA9FE0000u) {
      return {false, "link-local/metadata (169.254.0.0/16)"};
    } else if (first >= 224 && first <= 239) {
      return {false, "multicast"};
    } else if (v == 0xFFFFFFFFu) {
      return {false, "broadcast"};
    } else if (first >= 240) {
      return {false, "reserved (240.0.0.0/4)"};
    } else if (first == 10) {
      // RFC 1918, RFC 6598 (carrier-grade NAT) and RFC 2544 (benchmarking): the networks behind
      // the relay. A relay on a cloud VM reaches its provider's internal services through them;
      // Jitsi's own turnserver.conf denies them too. allowed-peer-ip reopens what a deployment
      // needs (a videobridge on a private address).
      return {false, "private (10.0.0.0/8)"};
    } else if ((v & 0xFFF00000u) == 0xAC100000u) {
      return {false, "private (172.16.0.0/12)"};
    } else if ((v & 0xFFFF0000u) == 0xC0A80000u) {
      return {false, "private (192.168.0.0/16)"};
    } else if ((v & 0xFFC00000u) == 0x64400000u) {
      return {false, "shared address space (100.64.0.0/10)"};
    } else if ((v & 0xFFFE0000u) == 0xC6120000u) {
      return {false, "benchmarking (198.18.0.0/15)"};
    }
  } else {
    const uint8_t* d = c.data();
    if (c.is_unspecified()) return {false, "unspecified (::)"};
    if (all_zero(d, 15) && d[15] == 1) {
      if (!o_.allow_loopback) return {false, "loopback"};
    }
    if (prefix(c, {0xfe, 0x80}, 10)) return {false, "link-local (fe80::/10)"};
    if (prefix(c, {0xfe, 0xc0}, 10)) return {false, "site-local (fec0::/10)"};
    if (prefix(c, {0xfc}, 7)) return {false, "unique local (fc00::/7)"};
    if (d[0] == 0xff) return {false, "multicast"};
    // RFC 6156 §9.1: a TURN relay MUST NOT accept Teredo or 6to4 peers.
    if (prefix(c, {0x20, 0x01, 0x00, 0x00}, 32)) return {false, "Teredo (2001::/32)"};
    if (prefix(c, {0x20, 0x02}, 16)) return {false, "6to4 (2002::/16)"};
  }
  (void)original;
  return {};
}

PeerDecision PeerPolicy::check(const IpAddress& peer) const {
  const IpAddress c = canonicalize(peer);
  // allowed-peer-ip wins over every refusal (coturn's rule).
  if (in_any(o_.allowed, c) || in_any(o_.allowed, peer)) return {};
  // A denied range matches the address as written and its canonical form, so a Jitsi-style
  // "::ffff:0.0.0.0-::ffff:255.255.255.255" and "127.0.0.0-127.255.255.255" both bite.
  if (in_any(o_.denied, c) || in_any(o_.denied, peer)) return {false, "denied-peer-ip"};
  return builtin(peer, c);
}

PeerDecision PeerPolicy::check(const SocketAddress& peer) const {
  PeerDecision d = check(peer.ip());
  if (!d) return d;
  const IpAddress c = canonicalize(peer.ip());
  if (in_any(o_.allowed, c) || in_any(o_.allowed, peer.ip())) return d;
  for (const auto& own : o_.own_listeners) {
    // RFC 8656 §21 (TURN loop): never relay into our own listening sockets. Other allocations'
    // relayed addresses on this server stay reachable (two browsers on one relay pair up so).
    if (own.port() == peer.port() && canonicalize(own.ip()) == c) {
      return {false, "the server's own listening address"};
    }
  }
  return d;
}

}  // namespace turnpike::relay
