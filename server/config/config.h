// turnpike's configuration: coturn's turnserver.conf syntax and option names where they exist.
// Parsing is in config_parser.h; the option table (names, kinds, obsolete names) in options.cc.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/ip_address.h"
#include "core/ip_range.h"
#include "core/socket_address.h"

namespace turnpike::config {

struct StaticUser {
  std::string name;
  std::string password;  // empty when `key` is set
  std::optional<std::array<uint8_t, 16>>
      key;  // "user=name:0x<32 hex digits>" (coturn turnadmin -k)
};

// external-ip=PUBLIC or external-ip=PUBLIC/PRIVATE (coturn): relayed addresses are announced as
// PUBLIC while relay sockets bind PRIVATE.
struct ExternalIp {
  core::IpAddress public_ip;
  std::optional<core::IpAddress> private_ip;
};

enum class DefaultFamily : uint8_t { Ipv4, Ipv6, Keep };

// kernel-offload: the eBPF fast path for ChannelData (DESIGN.md "Kernel fast path").
enum class KernelOffload : uint8_t { Off, Auto, On };

// Where an option was set, so that checks across options can point at the line to change.
struct OptionSite {
  std::string file;
  int line = 0;  // 0: the command line
};

struct Config {
  // --- where it came from (for messages)
  std::string source;  // the config file, or "command line"

  // --- listeners
  std::vector<core::IpAddress> listening_ips;  // empty: every local address
  uint16_t listening_port = 3478;
  uint16_t tls_listening_port = 5349;
  bool no_udp = false;
  bool no_tcp = false;
  bool no_tls = false;
  bool dtls = false;

  // --- TLS
  std::string cert;
  std::string pkey;  // empty: the key is in the cert file
  std::string cipher_list;

  // --- TCP, TLS and DTLS clients
  uint32_t max_allocate_timeout = 60;  // seconds a connection may go without an allocation
  unsigned max_connections_per_ip =
      512;  // TCP/TLS/DTLS connections per client address; 0: no limit
  unsigned max_connections_per_ipv6_64 = 1024;  // ... per IPv6 /64; 0: no limit
  std::optional<unsigned> max_connections;  // in total; unset: half the descriptor limit; 0: none

  // --- port 443 shared with a web server (the TLS multiplexer)
  uint16_t mux_listening_port = 0;  // 0: off
  std::optional<core::SocketAddress> mux_web_backend;
  std::vector<std::string> mux_web_sni;  // lower case
  bool mux_proxy_protocol = false;       // PROXY v2 header to the web backend
  uint32_t mux_web_drain_timeout = 60;   // seconds a web connection may make no progress

  // --- the check page (turnpike-admin check-link): HTTPS on its own port; 0: off
  uint16_t check_listening_port = 0;
  std::string check_turn_host;  // host in the page's TURN URLs; "": the host the browser used
  std::string check_url;        // the base URL check-link prints; "": https://HOST:PORT/turnpike-check/

  // --- metrics and health (/metrics, /health, /ready over plain HTTP); off by default
  bool prometheus = false;
  uint16_t prometheus_port = 9641;
  core::IpAddress prometheus_address = *core::IpAddress::parse("127.0.0.1");

  // --- the control socket (turnpike-admin status, disconnect, drain); "": none
  std::string control_socket = "/run/turnpike/control";

  // --- drain (SIGUSR1, turnpike-admin drain)
  uint32_t drain_timeout = 3600;  // seconds before the last allocations are ended; 0: never
  std::vector<core::SocketAddress> alternate_servers;  // 300 Try Alternate while draining

  // --- listeners behind a proxy that sends the PROXY protocol (v1 or v2); 0: off
  uint16_t tcp_proxy_port = 0;
  uint16_t tls_proxy_port = 0;
  // Who may send those headers (proxy-trusted-ip); empty: this host's loopback only.
  std::vector<core::IpRange> proxy_trusted_ips;

  // --- relay
  std::vector<core::IpAddress> relay_ips;  // empty: the address the client reached
  std::vector<ExternalIp> external_ips;
  bool external_ip_auto = false;                               // external-ip=auto
  std::optional<core::SocketAddress> external_ip_stun_server;  // asked at start when auto
  uint16_t min_port = 49152;
  uint16_t max_port = 65535;
  unsigned relay_threads = 0;  // 0: one per CPU
  bool no_udp_relay = false;
  bool no_tcp_relay = false;
  uint32_t tcp_connection_bind_timeout =
      30;  // RFC 6062 §5.2/§5.3: seconds to wait for a ConnectionBind
  DefaultFamily allocation_default_family = DefaultFamily::Ipv4;
  KernelOffload kernel_offload = KernelOffload::Auto;
  std::vector<std::string> kernel_offload_interfaces;  // empty: every Ethernet interface up
  uint32_t kernel_offload_flows = 32768;

  // --- authentication
  std::string realm = "turnpike";
  bool use_auth_secret = false;
  std::vector<std::string> static_auth_secrets;  // file order; the LAST one is the newest
  char rest_api_separator = ':';
  int64_t max_credential_ttl =
      7 * 86400;  // refuse REST expiries further ahead than this (0: no cap)
  bool lt_cred_mech = false;
  bool no_auth = false;
  std::vector<StaticUser> users;
  bool secure_stun = false;
  uint32_t stale_nonce = 600;  // seconds; 0 keeps nonces valid forever
  uint32_t expired_credential_grace = 86400;  // seconds an allocation outlives its credential

  // --- peer policy
  std::vector<core::IpRange> denied_peer_ips;
  std::vector<core::IpRange> allowed_peer_ips;
  bool allow_loopback_peers = false;
  bool no_multicast_peers = false;  // multicast is refused anyway; kept for coturn configs

  // --- quotas and lifetimes (RFC 8656 §3.2 defaults)
  // Concurrent allocations per user (core::rest_user_key: the REST user part, so every fresh
  // credential of one user counts together); 0: unlimited. A Jitsi participant holds up to 18:
  // a JVB and a P2P PeerConnection, each allocating on turn:udp, turn:tcp and turns: from up to
  // three network interfaces (Wi-Fi, Ethernet, VPN); a page reload leaves the old ones alive for
  // their lifetime, so three overlapping sessions are 54. coturn's default is unlimited.
  unsigned user_quota = 64;
  // Concurrent allocations in all; 0: unlimited. Far above what one host's bandwidth carries
  // (10,000 calls at 1 Mbit/s are 10 Gbit/s) and below the default relay port range (16,384),
  // it bounds memory and descriptors (one relay socket each) against a flood of credentials.
  unsigned total_quota = 10000;
  uint32_t max_allocate_lifetime = 3600;
  uint32_t default_allocate_lifetime = 600;
  uint32_t permission_lifetime = 300;
  uint32_t channel_lifetime = 600;
  unsigned max_permissions = 128;  // per allocation (RFC 8656 §9.2: 508 beyond)
  unsigned max_channels = 128;     // per allocation, cooling ones included (508 beyond)

  // --- messages
  bool fingerprint = false;

  // --- ledger
  std::string ledger = "/var/lib/turnpike/ledger.db";
  bool no_ledger = false;
  unsigned ledger_retention_days = 90;    // 0: keep everything
  // Held in memory while the ledger cannot be written: a bound in MiB, and one in events (0: none).
  unsigned ledger_max_pending_mb = 64;
  unsigned ledger_max_pending = 0;

  // --- logging and process
  std::string log_file;  // "": stderr; "stdout", "stderr", "syslog" or a path
  bool syslog = false;
  bool verbose = false;
  std::string pidfile;
  std::string proc_user;
  std::string proc_group;

  // Where each option was last set.
  std::map<std::string, OptionSite> sites;

  // Notices gathered while parsing (obsolete or ignored coturn options), one per option.
  std::vector<std::string> notices;

  // The secret that signs new credentials (the newest one); empty when there is none.
  const std::string& newest_secret() const;
};

}  // namespace turnpike::config
