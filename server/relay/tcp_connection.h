// One TCP connection between a TCP allocation's relayed address and a peer (RFC 6062 §5), as
// the relay state machine sees it. The socket itself is the network layer's (PeerConnection).
#pragma once

#include <array>
#include <cstdint>

#include "relay/timer_wheel.h"
#include "relay/types.h"

namespace turnpike::relay {

struct Allocation;

// On its worker's TimerWheel at deadline_ms while Connecting or Pending.
struct TcpConnection : TimerHook {
  TcpConnection() : TimerHook(kTimerTcpConnection) {}
  enum class State : uint8_t {
    Connecting,  // Connect (§5.2): the server is connecting to the peer
    Pending,  // connected (Connect answered, or ConnectionAttempt sent): waiting for ConnectionBind
    Bound,    // ConnectionBind succeeded (§5.4): the data connection and the peer are spliced
  };

  uint32_t id = 0;  // CONNECTION-ID (§6.2.1)
  Allocation* owner = nullptr;
  PeerConnection* socket = nullptr;
  SocketAddress peer;
  State state = State::Connecting;
  bool outgoing = false;  // made by Connect (active), not accepted on the relayed address (passive)
  // Connecting: when the connect is given up (447). Pending: when the peer connection is closed
  // for want of a ConnectionBind (§5.2, §5.3). Bound: unused.
  int64_t deadline_ms = 0;
  // Connecting: the Connect request to answer once the connect succeeds or fails.
  std::array<uint8_t, 12> connect_transaction_id{};
  bool connect_sha256 = false;       // answer with MESSAGE-INTEGRITY-SHA256, as asked
  bool connect_fingerprint = false;  // and with FINGERPRINT
};

}  // namespace turnpike::relay
