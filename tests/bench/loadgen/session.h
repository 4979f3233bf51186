// One allocation of the load generator: its client socket, credentials, where it stands in the
// set-up exchange (Allocate -> 401 -> Allocate -> CreatePermission -> ChannelBind), and the
// channel it relays through.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/long_term_key.h"
#include "core/socket_address.h"

namespace bench {

enum class SetupState : uint8_t { Idle, Allocate, CreatePermission, ChannelBind, Done, Failed };

struct Session {
  int fd = -1;  // UDP socket connect()ed to the server
  uint32_t index = 0;
  turnpike::core::SocketAddress peer;
  uint16_t channel = 0x4000;  // RFC 8656 §12: 0x4000-0x4FFF

  std::string username;  // TURN REST: "<expiry>:<user>-<index>"
  std::string password;  // base64(HMAC-SHA1(secret, username))
  std::string nonce;     // empty until the server challenged us
  turnpike::core::LongTermKey key;

  SetupState state = SetupState::Idle;
  uint8_t txid[12] = {};
  int64_t deadline_ns = 0;
  unsigned tries = 0;
  uint16_t last_error = 0;
  turnpike::core::SocketAddress relayed;
};

// Raises the open-file limit to its hard maximum, then opens `n` UDP sockets, socket i bound to
// 127.<net>.x.y (address i mod `ips`, so that per-source limits of the server see many clients, as
// in production) and connected to `server`; with a non-zero `prefix` (A.B.0.0) on A.B.x.y with
// y = 2 + j%250 instead (the benchmark namespaces' extra client addresses). Returns false with a
// message on failure.
bool open_client_sockets(std::vector<Session>& sessions, unsigned n, unsigned ips, unsigned net,
                         uint32_t prefix, const turnpike::core::SocketAddress& server, int rcvbuf,
                         std::string* error);

void close_client_sockets(std::vector<Session>& sessions);

}  // namespace bench
