#include "cmd/service_options.h"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "net/interfaces.h"
#include "net/log.h"
#include "net/stun_probe.h"

namespace turnpike::cmd {

relay::CredentialsPtr make_credentials(const config::Config& c) {
  auto creds = std::make_shared<relay::Credentials>();
  creds->realm = c.realm;
  creds->no_auth = c.no_auth;
  creds->rest_enabled = c.use_auth_secret;
  creds->secrets_newest_first.assign(c.static_auth_secrets.rbegin(), c.static_auth_secrets.rend());
  creds->separator = c.rest_api_separator;
  creds->max_ttl = c.max_credential_ttl;
  for (const auto& u : c.users) {
    relay::StaticUserEntry e;
    e.password = u.password;
    e.md5_key = u.key;
    creds->add_user(u.name, std::move(e));
  }
  return creds;
}

net::TlsFiles make_tls_files(const config::Config& c) {
  return net::TlsFiles{c.cert, c.pkey, c.cipher_list};
}

net::ServiceOptions make_service_options(const config::Config& c) {
  net::ServiceOptions o;
  relay::Settings& s = o.settings;
  s.default_lifetime = c.default_allocate_lifetime;
  s.max_lifetime = c.max_allocate_lifetime;
  s.permission_lifetime = c.permission_lifetime;
  s.channel_lifetime = c.channel_lifetime;
  s.max_permissions = c.max_permissions;
  s.max_channels = c.max_channels;
  s.udp_relay = !c.no_udp_relay;
  s.tcp_relay = !c.no_tcp_relay;
  s.tcp_connection_bind_timeout = c.tcp_connection_bind_timeout;
  s.default_family =
      c.allocation_default_family == config::DefaultFamily::Ipv6   ? relay::DefaultFamily::Ipv6
      : c.allocation_default_family == config::DefaultFamily::Keep ? relay::DefaultFamily::Keep
                                                                   : relay::DefaultFamily::Ipv4;
  s.fingerprint = c.fingerprint;
  s.secure_stun = c.secure_stun;
  s.stale_nonce = c.stale_nonce;
  s.expired_credential_grace = c.expired_credential_grace;
  s.alternate_servers = c.alternate_servers;

  const std::vector<core::IpAddress> listen =
      c.listening_ips.empty() ? net::local_addresses() : c.listening_ips;
  // Relay sockets bind relay-ip; without it, the listening addresses (coturn's default); with
  // external-ip=PUBLIC/PRIVATE and neither, the PRIVATE addresses.
  std::vector<core::IpAddress> relay_ips = c.relay_ips;
  if (relay_ips.empty()) {
    for (const auto& e : c.external_ips) {
      if (e.private_ip) relay_ips.push_back(*e.private_ip);
    }
  }
  if (relay_ips.empty()) relay_ips = listen;
  s.relay_addresses = relay_ips;
  for (const auto& e : c.external_ips) {
    if (e.private_ip) {
      s.external.push_back({e.public_ip, *e.private_ip});
    } else {
      // external-ip=PUBLIC: every relay address of that family is announced as PUBLIC.
      for (const auto& ip : relay_ips) {
        if (ip.family() == e.public_ip.family()) s.external.push_back({e.public_ip, ip});
      }
    }
  }

  o.policy.denied = c.denied_peer_ips;
  o.policy.allowed = c.allowed_peer_ips;
  o.policy.allow_loopback = c.allow_loopback_peers;
  o.credentials = make_credentials(c);
  o.threads = c.relay_threads ? c.relay_threads : std::max(1u, std::thread::hardware_concurrency());
  if (!c.no_udp) {
    for (const auto& ip : listen) o.udp_listeners.emplace_back(ip, c.listening_port);
  }
  // TCP and TLS (RFC 8656 §3.1), the port shared with a web server, listeners behind a
  // proxy, and DTLS (RFC 7350) on udp at the TLS port.
  const bool tls = !c.cert.empty();
  for (const auto& ip : listen) {
    auto add = [&](uint16_t port, net::StreamKind kind, bool proxy) {
      o.stream_listeners.push_back({core::SocketAddress(ip, port), kind, proxy});
    };
    if (!c.no_tcp) add(c.listening_port, net::StreamKind::Tcp, false);
    if (tls && !c.no_tls) add(c.tls_listening_port, net::StreamKind::Tls, false);
    if (c.mux_listening_port) add(c.mux_listening_port, net::StreamKind::Mux, false);
    if (c.tcp_proxy_port) add(c.tcp_proxy_port, net::StreamKind::Tcp, true);
    if (c.tls_proxy_port) add(c.tls_proxy_port, net::StreamKind::Tls, true);
    if (c.dtls) o.dtls_listeners.emplace_back(ip, c.tls_listening_port);
  }
  o.tls = make_tls_files(c);
  o.streams.idle_timeout_s = c.max_allocate_timeout;
  if (c.mux_web_backend) o.streams.mux.web_backend = *c.mux_web_backend;
  o.streams.mux.web_sni = c.mux_web_sni;
  o.streams.mux.proxy_protocol = c.mux_proxy_protocol;
  o.streams.mux.drain_timeout_s = c.mux_web_drain_timeout;
  o.streams.proxy_trusted = c.proxy_trusted_ips;
  if (o.streams.proxy_trusted.empty()) {  // a proxy on this host, the common case
    o.streams.proxy_trusted = {*core::IpRange::parse("127.0.0.0/8"), *core::IpRange::parse("::1")};
  }
  o.max_connections_per_ip = c.max_connections_per_ip;
  o.max_connections_per_ipv6_64 = c.max_connections_per_ipv6_64;
  o.max_connections = c.max_connections.value_or(0);  // auto: main() sets it from the limit
  o.offload.mode = c.kernel_offload == config::KernelOffload::On    ? net::OffloadMode::On
                   : c.kernel_offload == config::KernelOffload::Off ? net::OffloadMode::Off
                                                                    : net::OffloadMode::Auto;
  o.offload.interfaces = c.kernel_offload_interfaces;
  o.offload.flows = c.kernel_offload_flows;
  o.min_port = c.min_port;
  o.max_port = c.max_port;
  o.user_quota = c.user_quota;
  o.total_quota = c.total_quota;
  return o;
}

net::CheckPageOptions make_check_page_options(const config::Config& c) {
  net::CheckPageOptions o;
  o.secrets = c.static_auth_secrets;
  o.separator = c.rest_api_separator;
  o.max_credential_ttl = c.max_credential_ttl;
  o.turn_host = c.check_turn_host;
  if (!c.no_udp) o.udp_port = c.listening_port;
  if (!c.no_tcp) o.tcp_port = c.listening_port;
  if (!c.no_tls && !c.cert.empty()) o.tls_port = c.tls_listening_port;
  o.mux_port = c.mux_listening_port;
  if (!c.no_ledger) o.ledger_path = c.ledger;
  o.node = make_ledger_options(c).node;
  o.trusted_proxies = c.proxy_trusted_ips;
  return o;
}

std::vector<core::SocketAddress> check_page_addresses(const config::Config& c) {
  std::vector<core::SocketAddress> out;
  if (!c.check_listening_port) return out;
  if (c.listening_ips.empty()) {
    out.push_back(core::SocketAddress(core::IpAddress::any(core::Family::V4), c.check_listening_port));
  }
  for (const auto& ip : c.listening_ips) out.push_back(core::SocketAddress(ip, c.check_listening_port));
  return out;
}

ledger::WriterOptions make_ledger_options(const config::Config& c) {
  ledger::WriterOptions o;
  o.path = c.ledger;
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  o.node = host;
  o.realm = c.realm;
  o.retention_days = c.ledger_retention_days;
  o.max_pending_bytes = size_t(c.ledger_max_pending_mb) << 20;
  o.max_pending = c.ledger_max_pending;
  return o;
}

void discover_external_ip(const config::Config& c, net::ServiceOptions& o) {
  if (!c.external_ip_auto || !c.external_ip_stun_server) return;
  const core::SocketAddress server = *c.external_ip_stun_server;
  const auto& relays = o.settings.relay_addresses;
  auto from = std::find_if(relays.begin(), relays.end(), [&](const core::IpAddress& ip) {
    return ip.family() == server.family();
  });
  if (from == relays.end()) {
    net::log(net::LogLevel::Error, "external-ip=auto: no relay address of the family of ",
             server.to_string());
    return;
  }
  std::string err;
  auto seen = net::probe_public_address(*from, server, 3000, &err);
  if (!seen) {
    net::log(net::LogLevel::Error, "external-ip=auto: ", err,
             "; relayed addresses are announced as the local ones");
    return;
  }
  for (const auto& ip : relays) {
    if (ip.family() != seen->family()) continue;
    const bool mapped =
        std::any_of(o.settings.external.begin(), o.settings.external.end(),
                    [&](const relay::AddressMapping& m) { return m.private_ip == ip; });
    if (!mapped && ip != seen->ip()) o.settings.external.push_back({seen->ip(), ip});
  }
  net::log(net::LogLevel::Notice, "external-ip=auto: ", server.to_string(), " sees ",
           from->to_string(), " as ", seen->ip().to_string(),
           "; relayed addresses of that family are announced as ", seen->ip().to_string());
}

}  // namespace turnpike::cmd
