// Where an address can be reached from: what a relayed address (XOR-RELAYED-ADDRESS) or a mapped
// address (XOR-MAPPED-ADDRESS) tells about a deployment.
#pragma once

#include "core/ip_address.h"

#include <cstdint>

namespace turnpike::probe {

enum class Scope : uint8_t {
  Loopback,    // 127.0.0.0/8, ::1: this host only
  LinkLocal,   // 169.254.0.0/16, fe80::/10: this link only
  Private,     // RFC 1918 10/8, 172.16/12, 192.168/16; RFC 4193 fc00::/7: this site only
  SharedNat,   // RFC 6598 100.64.0.0/10: behind a carrier-grade NAT
  Unspecified, // 0.0.0.0, ::
  Global,      // anything else: reachable from the internet, as far as the address says
};

// IPv4-mapped IPv6 addresses are judged as the IPv4 address inside.
Scope scope_of(const core::IpAddress& a);
const char* scope_name(Scope s);  // "loopback", "link-local", "private", ...

// A remote user on the internet can send to it.
inline bool globally_reachable(Scope s) {
  return s == Scope::Global;
}

}  // namespace turnpike::probe
