// Which peers an allocation may talk to. One function canonicalises a peer address and one
// decides; CreatePermission, ChannelBind, Send and (RFC 6062) Connect all go through it.
//
// Refused by default (the lessons of CVE-2018-4058, CVE-2020-26262, CVE-2026-27624, coturn
// #1945/#1947, RFC 6156 §9.1): 0.0.0.0/8 and ::, loopback, link-local (incl. the cloud metadata
// address 169.254.169.254), the private networks 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16,
// 100.64.0.0/10 (RFC 6598), 198.18.0.0/15 (RFC 2544) and fc00::/7, fec0::/10, multicast,
// 255.255.255.255, 240.0.0.0/4, Teredo 2001::/32 and 6to4 2002::/16, and the server's own
// listening addresses. Addresses
// that embed IPv4 (IPv4-mapped, IPv4-compatible, NAT64 64:ff9b::/96) are judged as the IPv4
// address inside. denied-peer-ip adds refusals; allowed-peer-ip overrides every refusal;
// allow-loopback-peers reopens loopback only.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/ip_range.h"
#include "relay/types.h"

namespace turnpike::relay {

struct PeerDecision {
  bool allowed = true;
  const char* reason = "";  // why refused: "loopback", "denied-peer-ip", ...
  explicit operator bool() const { return allowed; }
};

class PeerPolicy {
 public:
  struct Options {
    std::vector<core::IpRange> denied;
    std::vector<core::IpRange> allowed;
    bool allow_loopback = false;
    std::vector<SocketAddress> own_listeners;  // the server's listening sockets
  };

  PeerPolicy() = default;
  explicit PeerPolicy(Options o) : o_(std::move(o)) {}

  // RFC 6156 and the IPv4-in-IPv6 encodings: IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible
  // ::a.b.c.d (not :: or ::1), NAT64 64:ff9b::a.b.c.d. Other addresses are returned as they are.
  static IpAddress canonicalize(const IpAddress& a);

  // For CreatePermission (an address only).
  PeerDecision check(const IpAddress& peer) const;
  // For ChannelBind, Send and Connect: also refuses the server's own listening sockets.
  PeerDecision check(const SocketAddress& peer) const;

 private:
  PeerDecision builtin(const IpAddress& original, const IpAddress& canonical) const;
  Options o_;
};

}  // namespace turnpike::relay
