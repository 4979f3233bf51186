// The STUN/TURN services an XMPP client should be told about (XEP-0215 §2 <service/> entries),
// derived from turnpike's own config so that the admin writes ports and transports once.
// No Lua and no credentials here: the binding adds those (core/rest_credentials).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "config/config.h"

namespace turnpike::lua {

struct AdvertisedService {
  std::string
      type;  // "stun", "turn" or "turns" (XEP-0215 service type registry; turns in practice)
  std::string transport;  // "udp" or "tcp"
  std::string host;
  uint16_t port = 0;
  bool needs_credentials = false;  // TURN requests need them (RFC 8656 §5); STUN Binding does not
};

struct AdvertiseOptions {
  // Names or addresses clients should use, in order; empty: derived from the config.
  std::vector<std::string> hosts;
  // Ports as the clients see them, when a NAT or a TLS multiplexer on 443 sits in front.
  std::optional<uint16_t> port;
  std::optional<uint16_t> tls_port;
};

// For every host: stun+turn over UDP on listening-port unless no-udp, turn over TCP on
// listening-port unless no-tcp, turns (TLS over TCP) on tls-listening-port when a cert is set and
// not no-tls, and turns on mux-listening-port (443 shared with the web server) when it is set.
// Listeners behind a PROXY-protocol proxy are not announced: the proxy's port is unknown here.
// Without `hosts`, the host is the first external-ip public address (IPv4 preferred), else the
// first listening-ip that is not a wildcard (unless external-ip=auto, whose address only the
// running relay knows). Returns an error message when neither the caller nor the config names a
// host, or when nothing is left to advertise.
std::variant<std::vector<AdvertisedService>, std::string> advertised_services(
    const config::Config& cfg, const AdvertiseOptions& options);

// The host derived from the config alone (see above), or std::nullopt.
std::optional<std::string> config_host(const config::Config& cfg);

}  // namespace turnpike::lua
