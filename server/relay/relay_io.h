// What the relay state machine asks of the network layer. The relay never makes a system call;
// net implements this (and tests implement it with recording fakes).
#pragma once

#include <cstdint>
#include <optional>

#include "core/bytes.h"
#include "relay/types.h"

namespace turnpike::relay {

struct Allocation;

struct OpenRelayRequest {
  Family family = Family::V4;
  IpAddress bind_ip;
  bool even_port = false;     // RFC 8656 §7.2: EVEN-PORT
  bool reserve_next = false;  // EVEN-PORT with R: keep port+1 and return a token
  std::optional<uint64_t> reservation_token;  // RESERVATION-TOKEN: use the port kept earlier
  bool dont_fragment = false; // DONT-FRAGMENT: set DF on relayed datagrams
};

struct OpenRelayResult {
  RelaySocket* socket = nullptr;  // null on failure
  SocketAddress bound;
  std::optional<uint64_t> reservation_token;  // when reserve_next was granted
  uint16_t error = 0;  // STUN error on failure: 508 (no port), 508/400 (bad token), 440
};

class RelayIo {
 public:
  virtual ~RelayIo() = default;
  // Binds a relay socket for `owner`; data arriving on it is delivered to
  // Server::on_peer_packet(owner, index, ...).
  virtual OpenRelayResult open_relay(Allocation& owner, uint8_t index, const OpenRelayRequest& r) = 0;
  virtual void close_relay(RelaySocket* s) = 0;
  virtual void send_to_peer(RelaySocket* s, const SocketAddress& peer, core::Bytes payload) = 0;
  virtual void send_to_client(const ClientRef& c, core::Bytes message) = 0;
};

}  // namespace turnpike::relay
