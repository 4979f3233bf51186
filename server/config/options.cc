#include "config/options.h"

#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <system_error>
#include <utility>
#include <vector>

namespace turnpike::config {
namespace {

using core::IpAddress;
using core::IpRange;
using Result = std::optional<std::string>;

// 'v', for an error message. Appended, not `"'" + std::string(v)`: GCC 12 at -O2 reports a
// false -Wrestrict overlap for a literal prepended to a temporary string.
std::string quoted(std::string_view v) {
  std::string s;
  s.reserve(v.size() + 2);
  s += '\'';
  s += v;
  s += '\'';
  return s;
}

// ---- value parsers ------------------------------------------------------------------------

std::optional<uint64_t> parse_uint(std::string_view v) {
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end != v.data() + v.size() || v.empty()) return std::nullopt;
  return n;
}

template <uint16_t Config::*M>
Result set_port(Config& c, std::string_view v) {
  auto n = parse_uint(v);
  if (!n || *n < 1 || *n > 65535) return quoted(v) + " is not a port number (1-65535)";
  c.*M = uint16_t(*n);
  return std::nullopt;
}

template <typename T, T Config::*M, uint64_t Max>
Result set_uint(Config& c, std::string_view v) {
  auto n = parse_uint(v);
  if (!n || *n > Max) {
    return quoted(v) + " is not a whole number between 0 and " + std::to_string(Max);
  }
  c.*M = T(*n);
  return std::nullopt;
}

template <typename T, T Config::*M, uint64_t Min, uint64_t Max>
Result set_uint_in(Config& c, std::string_view v) {
  auto n = parse_uint(v);
  if (!n || *n < Min || *n > Max) {
    return quoted(v) + " is not a whole number between " + std::to_string(Min) +
           " and " + std::to_string(Max);
  }
  c.*M = T(*n);
  return std::nullopt;
}

template <bool Config::*M>
Result set_flag(Config& c, std::string_view v) {
  c.*M = v == "1";
  return std::nullopt;
}

template <std::string Config::*M>
Result set_string(Config& c, std::string_view v) {
  if (v.empty()) return std::string("needs a value");
  c.*M = std::string(v);
  return std::nullopt;
}

template <std::vector<IpAddress> Config::*M>
Result add_ip(Config& c, std::string_view v) {
  auto ip = IpAddress::parse(v);
  if (!ip)
    return quoted(v) + " is not an IPv4 or IPv6 address (host names are not resolved)";
  (c.*M).push_back(*ip);
  return std::nullopt;
}

template <std::vector<IpRange> Config::*M>
Result add_range(Config& c, std::string_view v) {
  auto r = IpRange::parse(v);
  if (!r) {
    return quoted(v) + " is not an address range; write an address, FIRST-LAST (same family) or "
           "ADDRESS/PREFIX";
  }
  (c.*M).push_back(*r);
  return std::nullopt;
}

template <typename V, V Config::*M>
void clear_vector(Config& c) {
  (c.*M).clear();
}

Result set_max_connections(Config& c, std::string_view v) {
  if (v == "auto") {
    c.max_connections.reset();
    return std::nullopt;
  }
  auto n = parse_uint(v);
  if (!n || *n > 100000000) {
    return quoted(v) + " is not auto or a whole number between 0 and 100000000";
  }
  c.max_connections = unsigned(*n);
  return std::nullopt;
}

Result set_prometheus_address(Config& c, std::string_view v) {
  auto ip = IpAddress::parse(v);
  if (!ip) {
    return quoted(v) +
           " is not an IPv4 or IPv6 address; write 127.0.0.1 (the default), :: or one address "
           "of this host";
  }
  c.prometheus_address = *ip;
  return std::nullopt;
}

Result set_control_socket(Config& c, std::string_view v) {
  if (v == "none") {
    c.control_socket.clear();
    return std::nullopt;
  }
  if (v.empty() || v[0] != '/') {
    return quoted(v) + " is not an absolute path; write control-socket=/run/turnpike/control "
           "(the default) or control-socket=none";
  }
  if (v.size() > 107) return std::string("is longer than a unix socket path may be (107 bytes)");
  c.control_socket = std::string(v);
  return std::nullopt;
}

Result set_secret(Config& c, std::string_view v) {
  if (v.empty()) return std::string("needs a value: the shared secret, as Prosody has it");
  c.static_auth_secrets.emplace_back(v);
  return std::nullopt;
}

Result set_user(Config& c, std::string_view v) {
  const size_t colon = v.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return std::string("write user=NAME:PASSWORD or user=NAME:0x<32 hex digits of the key>");
  }
  StaticUser u;
  u.name = std::string(v.substr(0, colon));
  std::string_view secret = v.substr(colon + 1);
  if (secret.size() == 34 && secret.substr(0, 2) == "0x") {
    std::array<uint8_t, 16> key{};
    for (size_t i = 0; i < 16; ++i) {
      unsigned byte = 0;
      auto hex = secret.substr(2 + 2 * i, 2);
      auto [end, ec] = std::from_chars(hex.data(), hex.data() + 2, byte, 16);
      if (ec != std::errc() || end != hex.data() + 2) {
        return std::string("the key after 0x must be 32 hexadecimal digits");
      }
      key[i] = uint8_t(byte);
    }
    u.key = key;
  } else {
    if (secret.empty()) return "user '" + u.name + "' has an empty password";
    u.password = std::string(secret);
  }
  c.users.push_back(std::move(u));
  return std::nullopt;
}

Result set_separator(Config& c, std::string_view v) {
  if (v.size() != 1) return std::string("must be a single character, such as ':'");
  c.rest_api_separator = v[0];
  return std::nullopt;
}

Result set_external_ip(Config& c, std::string_view v) {
  if (v == "auto") {
    c.external_ip_auto = true;
    return std::nullopt;
  }
  ExternalIp e;
  const size_t slash = v.find('/');
  auto pub = IpAddress::parse(v.substr(0, slash));
  if (!pub) {
    return quoted(v) +
           " is not PUBLIC, PUBLIC/PRIVATE (IP addresses; host names are not resolved) or auto";
  }
  e.public_ip = *pub;
  if (slash != std::string_view::npos) {
    auto priv = IpAddress::parse(v.substr(slash + 1));
    if (!priv)
      return quoted(v.substr(slash + 1)) + " (the private part) is not an IP address";
    if (priv->family() != pub->family())
      return std::string("PUBLIC and PRIVATE must be the same family");
    e.private_ip = *priv;
  }
  c.external_ips.push_back(e);
  return std::nullopt;
}

Result set_stun_server(Config& c, std::string_view v) {
  auto a = core::SocketAddress::parse(v);
  if (!a) {
    if (auto ip = IpAddress::parse(v)) a = core::SocketAddress(*ip, 3478);
  }
  if (!a)
    return quoted(v) + " is not ADDRESS or ADDRESS:PORT ([IPv6]:PORT) of a STUN server";
  c.external_ip_stun_server = *a;
  return std::nullopt;
}

Result add_alternate_server(Config& c, std::string_view v) {
  auto a = core::SocketAddress::parse(v);
  if (!a) {
    if (auto ip = IpAddress::parse(v)) a = core::SocketAddress(*ip, 3478);
  }
  if (!a) {
    return quoted(v) +
           " is not ADDRESS or ADDRESS:PORT ([IPv6]:PORT) of another TURN server (host names are "
           "not resolved)";
  }
  c.alternate_servers.push_back(*a);
  return std::nullopt;
}

Result set_default_family(Config& c, std::string_view v) {
  if (v == "ipv4") {
    c.allocation_default_family = DefaultFamily::Ipv4;
  } else if (v == "ipv6") {
    c.allocation_default_family = DefaultFamily::Ipv6;
  } else if (v == "keep") {
    c.allocation_default_family = DefaultFamily::Keep;
  } else {
    return quoted(v) + " is not one of ipv4, ipv6, keep";
  }
  return std::nullopt;
}

Result set_kernel_offload(Config& c, std::string_view v) {
  if (v == "auto") {
    c.kernel_offload = KernelOffload::Auto;
  } else if (v == "on") {
    c.kernel_offload = KernelOffload::On;
  } else if (v == "off") {
    c.kernel_offload = KernelOffload::Off;
  } else {
    return quoted(v) + " is not one of auto, on, off";
  }
  return std::nullopt;
}

Result add_offload_interface(Config& c, std::string_view v) {
  // IFNAMSIZ - 1 characters, no '/' or white space (what the kernel accepts as a name).
  if (v.empty() || v.size() > 15 || v.find_first_of("/ \t") != std::string_view::npos) {
    return quoted(v) + " is not a network interface name (such as eth0)";
  }
  c.kernel_offload_interfaces.emplace_back(v);
  return std::nullopt;
}

Result set_keep_family(Config& c, std::string_view v) {
  if (v == "1") c.allocation_default_family = DefaultFamily::Keep;
  return std::nullopt;
}

Result set_log_file(Config& c, std::string_view v) {
  if (v.empty()) return std::string("needs a value: stdout, stderr, syslog or a file path");
  c.log_file = std::string(v);
  return std::nullopt;
}

Result set_web_backend(Config& c, std::string_view v) {
  auto a = core::SocketAddress::parse(v);
  if (!a || a->port() == 0) {
    return quoted(v) +
           " is not IP:PORT (e.g. 127.0.0.1:4444, or [::1]:4444; host names are not resolved)";
  }
  c.mux_web_backend = *a;
  return std::nullopt;
}

Result add_web_sni(Config& c, std::string_view v) {
  if (v.empty() || v.size() > 253)
    return std::string("needs a host name, such as meet.example.org");
  std::string name;
  for (char ch : v) {
    if (ch >= 'A' && ch <= 'Z') ch = char(ch - 'A' + 'a');
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.')) {
      return quoted(v) + " is not a host name (letters, digits, '-' and '.')";
    }
    name.push_back(ch);
  }
  c.mux_web_sni.push_back(std::move(name));
  return std::nullopt;
}

Result ignore(Config&, std::string_view) {
  return std::nullopt;
}

Result refuse_server_relay(Config&, std::string_view v) {
  if (v == "0") return std::nullopt;
  return std::string("is not supported: it relays without permission checks; remove the line");
}

Result set_tcp_bind_timeout(Config& c, std::string_view v) {
  auto n = parse_uint(v);
  if (!n || *n < 1 || *n > 3600) {
    return quoted(v) + " is not a number of seconds between 1 and 3600 (RFC 6062 says 30)";
  }
  c.tcp_connection_bind_timeout = uint32_t(*n);
  return std::nullopt;
}

constexpr uint64_t kMaxU32 = 0xFFFFFFFFull;

// The table. Flags take no value (a value of yes/no/true/false/1/0/on/off is accepted).
const OptionSpec kOptions[] = {
    // listeners
    {"listening-ip", OptionKind::Value,
     "address to listen on (repeatable; default: every local address)",
     add_ip<&Config::listening_ips>, clear_vector<std::vector<IpAddress>, &Config::listening_ips>},
    {"listening-port", OptionKind::Value, "UDP and TCP port for STUN/TURN (default 3478)",
     set_port<&Config::listening_port>},
    {"tls-listening-port", OptionKind::Value,
     "TLS port (and DTLS, with dtls) (default 5349; needs cert)",
     set_port<&Config::tls_listening_port>},
    {"no-udp", OptionKind::Flag, "no UDP listener", set_flag<&Config::no_udp>},
    {"no-tcp", OptionKind::Flag, "no plain TCP listener", set_flag<&Config::no_tcp>},
    {"no-tls", OptionKind::Flag, "no TLS listener", set_flag<&Config::no_tls>},
    {"dtls", OptionKind::Flag, "DTLS listener on the TLS port (off by default)",
     set_flag<&Config::dtls>},
    // TLS
    {"cert", OptionKind::Value,
     "certificate chain file (PEM, server certificate first); reloaded on SIGHUP/SIGUSR2",
     set_string<&Config::cert>},
    {"pkey", OptionKind::Value,
     "private key file (PEM; default: the cert file); read before proc-user",
     set_string<&Config::pkey>},
    {"cipher-list", OptionKind::Value, "OpenSSL cipher list for TLS 1.2",
     set_string<&Config::cipher_list>},
    // TCP, TLS and DTLS clients
    {"max-allocate-timeout", OptionKind::Value,
     "close a TCP/TLS/DTLS connection that has no allocation for this many seconds (default 60; 0: "
     "never)",
     set_uint<uint32_t, &Config::max_allocate_timeout, 86400>},
    {"max-connections-per-ip", OptionKind::Value,
     "TCP/TLS/DTLS connections one client address may hold (default 512; 0: no limit)",
     set_uint<unsigned, &Config::max_connections_per_ip, 1000000>},
    {"max-connections-per-ipv6-64", OptionKind::Value,
     "TCP/TLS/DTLS connections the addresses of one IPv6 /64 may hold together (default 1024; 0: "
     "no limit)",
     set_uint<unsigned, &Config::max_connections_per_ipv6_64, 1000000>},
    {"max-connections", OptionKind::Value,
     "TCP/TLS/DTLS connections in all (default auto: half the descriptor limit; 0: no limit)",
     set_max_connections},
    // port 443 shared with a web server
    {"mux-listening-port", OptionKind::Value,
     "TLS port shared with a web server, e.g. 443: HTTP clients (ALPN h2/http/1.1, or mux-web-sni) "
     "go to mux-web-backend, everything else is TURN over TLS",
     set_port<&Config::mux_listening_port>},
    {"mux-web-backend", OptionKind::Value,
     "IP:PORT of the web server behind mux-listening-port (e.g. 127.0.0.1:4444)", set_web_backend},
    {"mux-web-sni", OptionKind::Value,
     "TLS server name whose connections go to the web backend even without ALPN (repeatable)",
     add_web_sni, clear_vector<std::vector<std::string>, &Config::mux_web_sni>},
    {"mux-proxy-protocol", OptionKind::Flag,
     "send a PROXY protocol v2 header to mux-web-backend, so it sees client addresses",
     set_flag<&Config::mux_proxy_protocol>},
    {"mux-web-drain-timeout", OptionKind::Value,
     "close a forwarded web connection when one side takes nothing of what waits for it, or it is "
     "half-closed and nothing moves, for this many seconds (default 60, 1-3600)",
     set_uint_in<uint32_t, &Config::mux_web_drain_timeout, 1, 3600>},
    // metrics and health
    {"prometheus", OptionKind::Flag,
     "serve /metrics (OpenMetrics), /health and /ready over HTTP on prometheus-address:"
     "prometheus-port (default off)",
     set_flag<&Config::prometheus>},
    {"prometheus-port", OptionKind::Value, "port of /metrics, /health and /ready (default 9641)",
     set_port<&Config::prometheus_port>},
    {"prometheus-address", OptionKind::Value,
     "address /metrics, /health and /ready listen on (default 127.0.0.1)", set_prometheus_address},
    // the control socket
    {"control-socket", OptionKind::Value,
     "unix socket turnpike-admin status/disconnect/drain use (default /run/turnpike/control, "
     "mode 0660, group turnpike; 'none': no control socket)",
     set_control_socket},
    // drain
    {"drain-timeout", OptionKind::Value,
     "seconds a drain (SIGUSR1, turnpike-admin drain) waits for the last allocation before "
     "stopping anyway (default 3600; 0: no limit)",
     set_uint<uint32_t, &Config::drain_timeout, kMaxU32>},
    {"alternate-server", OptionKind::Value,
     "ADDRESS[:PORT] of another relay; while draining, Allocate is answered 300 Try Alternate "
     "naming the first of the client's family (repeatable; without it: 403)",
     add_alternate_server, clear_vector<std::vector<core::SocketAddress>, &Config::alternate_servers>},
    // the check page
    {"check-listening-port", OptionKind::Value,
     "HTTPS port of the check page that turnpike-admin check-link links to (needs cert; "
     "default off)",
     set_port<&Config::check_listening_port>},
    {"check-turn-host", OptionKind::Value,
     "host name the check page's TURN URLs use (default: the host the browser reached the page "
     "at)",
     set_string<&Config::check_turn_host>},
    {"check-url", OptionKind::Value,
     "public base URL of the check page, for check-link (e.g. https://meet.example.org/turnpike-check/ "
     "behind nginx; default https://ADDRESS:check-listening-port/turnpike-check/)",
     set_string<&Config::check_url>},
    // behind another proxy
    {"tcp-proxy-port", OptionKind::Value,
     "TURN over TCP behind a proxy that sends a PROXY v1/v2 header (e.g. HAProxy send-proxy)",
     set_port<&Config::tcp_proxy_port>},
    {"tls-proxy-port", OptionKind::Value,
     "TURN over TLS behind a proxy that sends a PROXY v1/v2 header before the TLS handshake",
     set_port<&Config::tls_proxy_port>},
    {"proxy-trusted-ip", OptionKind::Value,
     "a proxy allowed to connect to tcp-proxy-port and tls-proxy-port (repeatable; default: "
     "127.0.0.0/8 and ::1)",
     add_range<&Config::proxy_trusted_ips>,
     clear_vector<std::vector<IpRange>, &Config::proxy_trusted_ips>},
    // relay
    {"relay-ip", OptionKind::Value, "address relay sockets bind (repeatable)",
     add_ip<&Config::relay_ips>, clear_vector<std::vector<IpAddress>, &Config::relay_ips>},
    {"external-ip", OptionKind::Value,
     "PUBLIC or PUBLIC/PRIVATE address mapping (repeatable), or auto (see external-ip-stun-server)",
     set_external_ip, clear_vector<std::vector<ExternalIp>, &Config::external_ips>},
    {"external-ip-stun-server", OptionKind::Value,
     "with external-ip=auto: the STUN server (ADDRESS[:PORT]) asked at start for the public "
     "address",
     set_stun_server},
    {"min-port", OptionKind::Value, "lowest relay port (default 49152)",
     set_port<&Config::min_port>},
    {"max-port", OptionKind::Value, "highest relay port (default 65535)",
     set_port<&Config::max_port>},
    {"relay-threads", OptionKind::Value, "worker threads (default: one per CPU)",
     set_uint<unsigned, &Config::relay_threads, 256>},
    {"no-udp-relay", OptionKind::Flag, "refuse UDP allocations", set_flag<&Config::no_udp_relay>},
    {"no-tcp-relay", OptionKind::Flag, "refuse RFC 6062 TCP allocations",
     set_flag<&Config::no_tcp_relay>},
    {"tcp-connection-bind-timeout", OptionKind::Value,
     "RFC 6062: close a peer TCP connection whose ConnectionBind has not come within this many "
     "seconds (default 30, 1-3600)",
     set_tcp_bind_timeout},
    {"allocation-default-address-family", OptionKind::Value,
     "relay family when the client asks for none: ipv4 (default), ipv6 or keep",
     set_default_family},
    {"kernel-offload", OptionKind::Value,
     "relay ChannelData of UDP clients in the kernel (eBPF): auto (default: when the kernel and "
     "the capabilities allow, else one notice), on (else refuse to start) or off",
     set_kernel_offload},
    {"kernel-offload-interface", OptionKind::Value,
     "attach the kernel fast path to this interface only (repeatable; default: every Ethernet "
     "interface that is up)",
     add_offload_interface, clear_vector<std::vector<std::string>, &Config::kernel_offload_interfaces>},
    {"kernel-offload-flows", OptionKind::Value,
     "channel bindings the kernel fast path holds at once (default 32768, 128 bytes each)",
     set_uint<uint32_t, &Config::kernel_offload_flows, 1u << 22>},
    // authentication
    {"realm", OptionKind::Value, "authentication realm", set_string<&Config::realm>},
    {"use-auth-secret", OptionKind::Flag, "TURN REST API credentials (static-auth-secret)",
     set_flag<&Config::use_auth_secret>},
    {"static-auth-secret", OptionKind::Value,
     "REST API shared secret (repeatable for rotation: the last one signs, all verify)", set_secret,
     clear_vector<std::vector<std::string>, &Config::static_auth_secrets>},
    {"rest-api-separator", OptionKind::Value, "separator in REST usernames (default ':')",
     set_separator},
    {"max-credential-ttl", OptionKind::Value,
     "refuse REST credentials expiring more than this many seconds ahead (default 604800; 0: no "
     "cap)",
     set_uint<int64_t, &Config::max_credential_ttl, kMaxU32>},
    {"lt-cred-mech", OptionKind::Flag, "long-term credentials (user=...)",
     set_flag<&Config::lt_cred_mech>},
    {"no-auth", OptionKind::Flag, "no authentication at all (testing only)",
     set_flag<&Config::no_auth>},
    {"user", OptionKind::Value, "static user NAME:PASSWORD or NAME:0xKEY (repeatable)", set_user,
     clear_vector<std::vector<StaticUser>, &Config::users>},
    {"secure-stun", OptionKind::Flag, "require authentication for Binding requests",
     set_flag<&Config::secure_stun>},
    {"stale-nonce", OptionKind::Value, "nonce lifetime in seconds (default 600)",
     set_uint<uint32_t, &Config::stale_nonce, kMaxU32>},
    {"expired-credential-grace", OptionKind::Value,
     "seconds after a REST credential expired that its allocation may still refresh itself and "
     "its permissions and channels for the peers it has (nothing new; default 86400)",
     set_uint<uint32_t, &Config::expired_credential_grace, 31536000>},
    // peer policy
    {"denied-peer-ip", OptionKind::Value, "refuse peers in this range (repeatable)",
     add_range<&Config::denied_peer_ips>,
     clear_vector<std::vector<IpRange>, &Config::denied_peer_ips>},
    {"allowed-peer-ip", OptionKind::Value,
     "allow peers in this range, overriding every refusal (repeatable)",
     add_range<&Config::allowed_peer_ips>,
     clear_vector<std::vector<IpRange>, &Config::allowed_peer_ips>},
    {"allow-loopback-peers", OptionKind::Flag,
     "allow relaying to loopback addresses (testing only)",
     set_flag<&Config::allow_loopback_peers>},
    {"no-multicast-peers", OptionKind::Flag, "refuse multicast peers (always the case)",
     set_flag<&Config::no_multicast_peers>},
    // quotas and lifetimes
    {"user-quota", OptionKind::Value, "concurrent allocations per user (default 64; 0: unlimited)",
     set_uint<unsigned, &Config::user_quota, kMaxU32>},
    {"total-quota", OptionKind::Value, "concurrent allocations in all (default 10000; 0: unlimited)",
     set_uint<unsigned, &Config::total_quota, kMaxU32>},
    {"max-allocate-lifetime", OptionKind::Value,
     "longest allocation lifetime in seconds (default 3600)",
     set_uint<uint32_t, &Config::max_allocate_lifetime, kMaxU32>},
    {"channel-lifetime", OptionKind::Value, "channel binding lifetime in seconds (default 600)",
     set_uint<uint32_t, &Config::channel_lifetime, kMaxU32>},
    {"permission-lifetime", OptionKind::Value, "permission lifetime in seconds (default 300)",
     set_uint<uint32_t, &Config::permission_lifetime, kMaxU32>},
    {"max-permissions", OptionKind::Value,
     "permissions per allocation; beyond: 508 (default 128, 1 to 65535)",
     set_uint_in<unsigned, &Config::max_permissions, 1, 65535>},
    {"max-channels", OptionKind::Value,
     "channel bindings per allocation, cooling ones included; beyond: 508 (default 128, 1 to 16384)",
     set_uint_in<unsigned, &Config::max_channels, 1, 16384>},
    {"fingerprint", OptionKind::Flag, "add FINGERPRINT to every response",
     set_flag<&Config::fingerprint>},
    // ledger
    {"ledger", OptionKind::Value, "SQLite file recording sessions, refusals and credentials",
     set_string<&Config::ledger>},
    {"no-ledger", OptionKind::Flag, "record nothing in the ledger", set_flag<&Config::no_ledger>},
    {"ledger-retention-days", OptionKind::Value,
     "delete ledger rows older than this (default 90; 0: never)",
     set_uint<unsigned, &Config::ledger_retention_days, 36500>},
    {"ledger-max-pending-mb", OptionKind::Value,
     "MiB of events kept in memory while the ledger cannot be written (default 64; an event "
     "takes 56 to 400 bytes); beyond it events are dropped and counted",
     set_uint_in<unsigned, &Config::ledger_max_pending_mb, 1, 16384>},
    {"ledger-max-pending", OptionKind::Value,
     "also at most this many events kept in memory (default 0: only ledger-max-pending-mb)",
     set_uint<unsigned, &Config::ledger_max_pending, 10'000'000>},
    // logging and process
    {"log-file", OptionKind::Value, "stdout, stderr, syslog or a file path (default stderr)",
     set_log_file},
    {"syslog", OptionKind::Flag, "log to syslog", set_flag<&Config::syslog>},
    {"verbose", OptionKind::Flag, "log every allocation event", set_flag<&Config::verbose>},
    {"Verbose", OptionKind::Flag, "same as verbose", set_flag<&Config::verbose>},
    {"pidfile", OptionKind::Value, "write the process id to this file",
     set_string<&Config::pidfile>},
    {"proc-user", OptionKind::Value, "user to switch to after binding ports and reading keys",
     set_string<&Config::proc_user>},
    {"proc-group", OptionKind::Value, "group to switch to", set_string<&Config::proc_group>},
    {"server-relay", OptionKind::Flag, "not supported (coturn: relay without permissions)",
     refuse_server_relay},

    // Obsolete or meaningless here, accepted so that coturn and Jitsi configs load unchanged.
    {"no-loopback-peers", OptionKind::Flag,
     "loopback peers are refused unless allow-loopback-peers is set", ignore, nullptr, true},
    {"keep-address-family", OptionKind::Flag,
     "obsolete; same as allocation-default-address-family=keep", set_keep_family, nullptr, true},
    {"dh2066", OptionKind::Flag, "ignored: turnpike negotiates ECDHE and needs no DH parameters",
     ignore, nullptr, true},
    {"dh566", OptionKind::Flag, "ignored: turnpike negotiates ECDHE and needs no DH parameters",
     ignore, nullptr, true},
    {"dh1066", OptionKind::Flag, "ignored: turnpike negotiates ECDHE and needs no DH parameters",
     ignore, nullptr, true},
    {"no-tlsv1", OptionKind::Flag, "ignored: TLS below 1.2 is never offered", ignore, nullptr,
     true},
    {"no-tlsv1_1", OptionKind::Flag, "ignored: TLS below 1.2 is never offered", ignore, nullptr,
     true},
    {"no-tlsv1_2", OptionKind::Flag, "ignored: TLS 1.2 stays on for older clients", ignore, nullptr,
     true},
    {"no-cli", OptionKind::Flag, "ignored: turnpike has no telnet CLI (use turnpike-admin)", ignore,
     nullptr, true},
    {"no-dtls", OptionKind::Flag, "ignored: DTLS is off unless 'dtls' is set", ignore, nullptr,
     true},
    {"lt-cred-mech-only", OptionKind::Flag, "ignored", ignore, nullptr, true},
    {"no-stdout-log", OptionKind::Flag, "ignored: choose the destination with log-file", ignore,
     nullptr, true},
    {"simple-log", OptionKind::Flag, "ignored: turnpike always writes one file", ignore, nullptr,
     true},
    {"new-log-timestamp", OptionKind::Flag, "ignored: timestamps are always ISO 8601", ignore,
     nullptr, true},
    {"log-binding", OptionKind::Flag, "ignored", ignore, nullptr, true},
    {"no-rfc5780", OptionKind::Flag, "ignored: RFC 5780 is not offered", ignore, nullptr, true},
    {"no-stun-backward-compatibility", OptionKind::Flag, "ignored: RFC 3489 is not offered", ignore,
     nullptr, true},
    {"response-origin-only-with-rfc5780", OptionKind::Flag, "ignored", ignore, nullptr, true},
    {"no-software-attribute", OptionKind::Flag, "ignored: SOFTWARE is never sent", ignore, nullptr,
     true},
    {"prod", OptionKind::Flag, "ignored: SOFTWARE is never sent", ignore, nullptr, true},
    {"stateless-nonce", OptionKind::Flag, "ignored: nonces are always stateless", ignore, nullptr,
     true},
};

}  // namespace

const OptionSpec* find_option(std::string_view name) {
  for (const auto& o : kOptions) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

OptionTable option_table() {
  return {std::begin(kOptions), std::end(kOptions)};
}

}  // namespace turnpike::config
