// A TCP or TLS client connection leaving its StreamConnection (RFC 6062 §5.4): to become the
// client side of a TcpDataPair after its ConnectionBind, or to move to the worker that owns the
// CONNECTION-ID it binds (relay/connection_ids.h). Everything the connection holds goes along,
// so not a byte is lost or reordered: the socket, the TLS session with whatever ciphertext it
// has buffered either way, the plaintext received but not yet handled, and the plain-TCP bytes
// queued for the client. Move-only; the socket closes if the hand-off is dropped.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "core/socket_address.h"
#include "net/connection_limits.h"
#include "net/tcp_listener.h"
#include "net/tls_stream.h"
#include "net/unique_fd.h"

namespace turnpike::net {

struct StreamHandoff {
  StreamListenerSpec spec;  // the listener it was accepted on
  UniqueFd fd;
  core::SocketAddress peer;  // the client
  std::optional<ConnectionLimits::Slot> slot;
  std::unique_ptr<TlsStream> tls;  // null over plain TCP
  std::vector<uint8_t> unread;     // plaintext received, not yet handled
  std::vector<uint8_t> unsent;     // plain TCP: bytes queued for the client, not yet sent
};

}  // namespace turnpike::net
