// How a worker sends to a client: through the UDP listener the client wrote to, or through the
// client's TCP/TLS connection. relay::ClientRef::transport (a relay::ClientHandle) is one of these.
#pragma once

#include "core/bytes.h"
#include "core/socket_address.h"
#include "relay/types.h"

namespace turnpike::net {

class StreamConnection;

class ClientTransport : public relay::ClientHandle {
 public:
  virtual ~ClientTransport() = default;
  virtual void send(const core::SocketAddress& to, core::Bytes data) = 0;
  virtual relay::Transport kind() const = 0;
  // A TCP or TLS client connection (RFC 6062 ConnectionBind needs one), or null.
  virtual StreamConnection* as_stream() { return nullptr; }
};

}  // namespace turnpike::net
