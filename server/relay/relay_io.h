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
  bool even_port = false;                     // RFC 8656 §7.2: EVEN-PORT
  bool reserve_next = false;                  // EVEN-PORT with R: keep port+1 and return a token
  std::optional<uint64_t> reservation_token;  // RESERVATION-TOKEN: use the port kept earlier
  bool dont_fragment = false;                 // DONT-FRAGMENT: set DF on relayed datagrams
  // RFC 6062 §5.1: a TCP allocation. The relay socket is a listening TCP socket on the relayed
  // address (peers connect to it: Server::on_peer_accepted), and outgoing connections to peers
  // (connect_peer) are made from that same address.
  bool tcp = false;
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
  virtual OpenRelayResult open_relay(Allocation& owner, uint8_t index,
                                     const OpenRelayRequest& r) = 0;
  virtual void close_relay(RelaySocket* s) = 0;
  // Hand-over: the relay socket numbered `fd` among those another process passed, for
  // `owner`'s relay `index`, as open_relay would have made it. Null when there is none.
  virtual RelaySocket* adopt_relay(Allocation& /*owner*/, uint8_t /*index*/, uint32_t /*fd*/) {
    return nullptr;
  }
  virtual void send_to_peer(RelaySocket* s, const SocketAddress& peer, core::Bytes payload) = 0;
  virtual void send_to_client(const ClientRef& c, core::Bytes message) = 0;

  // ---- RFC 6062 TCP relay. Every PeerConnection the relay gets (from connect_peer or
  // on_peer_accepted) is given back exactly once, to close_peer; net never frees one by itself.

  // Starts a non-blocking TCP connection from `from` (the allocation's relayed address) to
  // `peer` (RFC 6062 §5.2). The outcome arrives later in Server::on_peer_connected(id, ...),
  // never from inside this call. Null when no socket could be made (the Connect fails with 447).
  virtual PeerConnection* connect_peer(uint32_t id, const SocketAddress& from,
                                       const SocketAddress& peer) = 0;
  // RFC 6062 §5.4: the client connection `data` sent a ConnectionBind for `p`, whose success
  // response has just been sent on it. After the message being handled, `data` stops carrying
  // STUN: its bytes and the peer's are relayed as they are, both ways, with what the peer sent
  // before (buffered) first. Server::on_tcp_relayed counts them; the end of either side ends both
  // and comes back as Server::on_peer_closed.
  virtual void bind_peer(PeerConnection* p, const ClientRef& data) = 0;
  // Closes the peer connection and, when bound, its data connection. Never calls back.
  virtual void close_peer(PeerConnection* p) = 0;
  // A ConnectionBind for an id that worker `worker` owns (ConnectionIds) arrived on this
  // worker's client connection `c`: after the message being handled, the connection (socket,
  // TLS state, unread bytes) moves to that worker, which handles `message` again. False when it
  // cannot move (it moved once already, or `c` is not a TCP/TLS connection).
  virtual bool move_client(const ClientRef& c, uint8_t worker, core::Bytes message) = 0;
};

}  // namespace turnpike::relay
