// Small value types shared by the relay state machine and the network layer.
#pragma once

#include <cstdint>

#include "core/socket_address.h"

namespace turnpike::relay {

using core::Family;
using core::IpAddress;
using core::SocketAddress;

enum class Transport : uint8_t { Udp, Tcp, Tls, Dtls };
const char* transport_name(Transport t);
constexpr bool is_stream(Transport t) {
  return t == Transport::Tcp || t == Transport::Tls;
}

// RFC 8656 §2: the client's 5-tuple identifies its allocation.
struct FiveTuple {
  SocketAddress client;
  SocketAddress server;
  Transport transport = Transport::Udp;
  friend bool operator==(const FiveTuple&, const FiveTuple&) = default;
};

struct FiveTupleHash {
  size_t operator()(const FiveTuple& t) const {
    return t.client.hash() * 1000003u ^ t.server.hash() * 31u ^ size_t(t.transport);
  }
};

// What a TimerHook (relay/timer_wheel.h) of the relay is: Server::tick's dispatch.
enum TimerKind : uint8_t { kTimerAllocation = 1, kTimerTcpConnection = 2 };

// Time is passed in, never read: `mono_ms` for lifetimes, `unix_s` for credentials and nonces.
struct Now {
  int64_t mono_ms = 0;
  int64_t unix_ms = 0;
  int64_t unix_s() const { return unix_ms / 1000; }
};

// The relay's handle on whatever carries a client's messages: the network layer's UDP listener,
// TCP/TLS connection or DTLS session (net::ClientTransport derives from it). The relay only
// stores it and passes it back (RelayIo::send_to_client); it cannot be deleted through it.
class ClientHandle {
 protected:
  ClientHandle() = default;
  ~ClientHandle() = default;
};

// How the network layer reaches a client: its transport and the client's address.
struct ClientRef {
  ClientHandle* transport = nullptr;
  SocketAddress address;
};

// A relay socket owned by the network layer; the relay only holds the pointer.
struct RelaySocket;
// A TCP connection with a peer (RFC 6062), owned by the network layer; the relay only holds the
// pointer, from connect_peer() or on_peer_accepted() until it passes it to close_peer().
struct PeerConnection;

}  // namespace turnpike::relay
