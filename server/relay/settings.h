// What the relay state machine needs from the configuration (filled in by cmd from config::Config;
// relay does not depend on the config library).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "relay/types.h"

namespace turnpike::relay {

enum class DefaultFamily : uint8_t { Ipv4, Ipv6, Keep };

// external-ip mapping: relay sockets bind `private_ip`, clients are told `public_ip`.
struct AddressMapping {
  IpAddress public_ip;
  IpAddress private_ip;
};

struct Settings {
  // RFC 8656 §3.2 lifetimes, in seconds.
  uint32_t default_lifetime = 600;
  uint32_t max_lifetime = 3600;
  uint32_t permission_lifetime = 300;
  uint32_t channel_lifetime = 600;
  // Per allocation (RFC 8656 §9.2, §12.2): past either cap CreatePermission or ChannelBind is
  // answered 508 Insufficient Capacity. Channels count while cooling (they still hold their
  // number and peer).
  unsigned max_permissions = 128;
  unsigned max_channels = 128;

  bool udp_relay = true;
  bool tcp_relay = false;  // RFC 6062 TCP allocations (off with no-tcp-relay)
  // RFC 6062 §5.2, §5.3: a peer connection not bound by a ConnectionBind within this many
  // seconds is closed (tcp-connection-bind-timeout); a Connect not connected within
  // tcp_connect_timeout fails with 447.
  uint32_t tcp_connection_bind_timeout = 30;
  uint32_t tcp_connect_timeout = 30;
  // Peer connections (connecting, waiting or bound) one TCP allocation may have at once.
  unsigned max_tcp_connections = 64;
  DefaultFamily default_family = DefaultFamily::Ipv4;

  // Addresses relay sockets may bind, in preference order. When the address a client reached is
  // among them it is used; otherwise the first of the requested family.
  std::vector<IpAddress> relay_addresses;
  std::vector<AddressMapping> external;

  bool fingerprint = false;    // FINGERPRINT on every response
  bool secure_stun = false;    // Binding needs authentication
  uint32_t stale_nonce = 600;  // seconds
  // Seconds after its REST credential expired that an allocation may still be refreshed, and
  // permissions and channels for the peers it already has (credential_expiry.cc); then 401.
  uint32_t expired_credential_grace = 86400;
  // Unauthenticated responses per client IP per second (and twice that as a burst); 0: no limit.
  uint32_t unauth_rate = 200;
  // alternate-server: where a draining relay sends new allocations (RFC 8489 §10, 300 Try
  // Alternate); the first of the client's family is named. Empty: 403 while draining.
  std::vector<SocketAddress> alternate_servers;

  // The announced (public) form of a bound relay address.
  IpAddress announced(const IpAddress& bound) const {
    for (const auto& m : external) {
      if (m.private_ip == bound) return m.public_ip;
    }
    return bound;
  }
};

}  // namespace turnpike::relay
