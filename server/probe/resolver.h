// Host names to addresses, as a client would look them up: every A and AAAA answer (getaddrinfo,
// so /etc/hosts and nsswitch apply), IP literals without any lookup, and --resolve HOST:ADDRESS
// overrides that answer for a name without asking anyone (a node behind round-robin DNS, or a test
// that must send no DNS query). SRV for XMPP (RFC 6120 §3.2.1, XEP-0368 for direct TLS).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/ip_address.h"

namespace turnpike::probe {

using ResolveOverrides = std::map<std::string, std::vector<core::IpAddress>>;  // lower-case names

struct Resolution {
  enum class Source : uint8_t { Literal, Override, Dns } source = Source::Dns;
  std::vector<core::IpAddress> addresses;  // IPv4 and IPv6, in the resolver's order, no duplicates
  std::string error;                       // when addresses is empty
  int64_t us = 0;
};

Resolution resolve_host(const std::string& host, const ResolveOverrides& overrides);

struct SrvTarget {
  std::string host;
  uint16_t port = 0;
  uint16_t priority = 0, weight = 0;
  bool direct_tls = false;  // from _xmpps-client (XEP-0368): TLS from the first byte
};

// _xmpps-client._tcp.DOMAIN and _xmpp-client._tcp.DOMAIN, ordered by priority (direct TLS first
// at equal priority, as XEP-0368 §3 suggests). Empty when the domain has none (then clients use
// DOMAIN:5222); `error` is set only when the lookup itself failed.
std::vector<SrvTarget> lookup_xmpp_srv(const std::string& domain, std::string* error);

}  // namespace turnpike::probe
