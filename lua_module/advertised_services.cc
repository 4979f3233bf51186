#include "lua_module/advertised_services.h"

namespace turnpike::lua {
namespace {

template <typename T, typename Address>
std::optional<std::string> first_address(const std::vector<T>& items, Address address) {
  // IPv4 first: an IPv6 literal in a host attribute needs brackets in a turn: URI (RFC 7065
  // §3.1), which some clients (lib-jitsi-meet) do not add.
  for (const T& item : items) {
    const core::IpAddress& ip = address(item);
    if (ip.is_v4() && !ip.is_unspecified()) return ip.to_string();
  }
  for (const T& item : items) {
    const core::IpAddress& ip = address(item);
    if (!ip.is_unspecified()) return ip.to_string();
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> config_host(const config::Config& cfg) {
  // external-ip=auto: the public address is learnt by the running daemon (a STUN probe), not
  // from the file, and the listening address is then a private one clients cannot reach.
  if (cfg.external_ips.empty() && cfg.external_ip_auto) return std::nullopt;
  if (auto h = first_address(
          cfg.external_ips,
          [](const config::ExternalIp& e) -> const core::IpAddress& { return e.public_ip; })) {
    return h;
  }
  return first_address(cfg.listening_ips,
                       [](const core::IpAddress& ip) -> const core::IpAddress& { return ip; });
}

std::variant<std::vector<AdvertisedService>, std::string> advertised_services(
    const config::Config& cfg, const AdvertiseOptions& options) {
  std::vector<std::string> hosts = options.hosts;
  if (hosts.empty()) {
    auto h = config_host(cfg);
    if (!h) {
      return cfg.source +
             (cfg.external_ip_auto
                  ? ": has external-ip=auto, so the public address is only known to the running "
                    "relay"
                  : ": has neither external-ip nor listening-ip, so the address clients should use "
                    "is unknown") +
             "; give the relay's public host name (turnpike_host in Prosody's config)";
    }
    hosts.push_back(*h);
  }
  const uint16_t port = options.port.value_or(cfg.listening_port);
  const uint16_t tls_port = options.tls_port.value_or(cfg.tls_listening_port);
  const bool tls = !cfg.cert.empty() && !cfg.no_tls;

  std::vector<AdvertisedService> out;
  for (const std::string& host : hosts) {
    if (host.empty()) return std::string("an empty host name was given; remove it");
    if (!cfg.no_udp) {
      out.push_back({"stun", "udp", host, port, false});
      out.push_back({"turn", "udp", host, port, true});
    }
    if (!cfg.no_tcp) out.push_back({"turn", "tcp", host, port, true});
    if (tls) out.push_back({"turns", "tcp", host, tls_port, true});
    // Port 443 shared with the web server: TURN over TLS for clients that may only reach 443.
    if (cfg.mux_listening_port && !cfg.cert.empty() &&
        !(tls && cfg.mux_listening_port == tls_port)) {
      out.push_back({"turns", "tcp", host, cfg.mux_listening_port, true});
    }
  }
  if (out.empty()) {
    return cfg.source +
           ": listens on nothing a client can be told about (no-udp, no-tcp and no TLS "
           "listener with a cert)";
  }
  return out;
}

}  // namespace turnpike::lua
