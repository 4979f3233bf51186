// A TCP connection between a TCP allocation's relayed address and a peer (RFC 6062): the
// network side of a relay::TcpConnection. The relay holds it as a relay::PeerConnection* from
// Worker::connect_peer (Connect, §5.2) or Server::on_peer_accepted (a peer connecting to the
// relayed address, §5.3) until it hands it to Worker::close_peer.
//
//   Connecting --(connected: Server::on_peer_connected)--> Pending --(bind)--> Bound --> closed
//                                      accepted (§5.3) --> Pending
//
// Pending: what the peer sends waits in its stream's input (at most kPeerInput bytes), to be
// relayed after the ConnectionBind (§5.3); once that is full, the stream stops reading and TCP
// flow control holds the peer. Bound: a Splice relays it and the client's data connection.
//
// It is a Connection of its worker, so it is destroyed from the top of the event loop, never
// inside one of its callbacks. Whatever ends it (the peer, the client's data connection, the
// relay), the relay hears of it once (Server::on_peer_closed) unless the relay closed it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/socket_address.h"
#include "net/connection_limits.h"
#include "net/connection_set.h"
#include "net/splice.h"
#include "net/stream.h"

namespace turnpike::relay {
// The relay's handle of a peer TCP connection (relay/types.h) is a TcpPeerConnection.
struct PeerConnection {
 protected:
  ~PeerConnection() = default;
};
}  // namespace turnpike::relay

namespace turnpike::net {

class Worker;

class TcpPeerConnection final : public Connection,
                                public relay::PeerConnection,
                                private Stream::Handler,
                                private Splice::Owner {
 public:
  enum class State : uint8_t { Connecting, Pending, Bound };
  // What a peer may send before the ConnectionBind, kept for the client (§5.3).
  static constexpr size_t kPeerInput = 64 * 1024;
  static Stream::Limits limits();

  // Connect (RFC 6062 §5.2): a non-blocking connection from `from`, the relayed address (the
  // allocation's listener has SO_REUSEPORT, so the address can be bound again), to `peer`.
  // Null, with `error`, when no socket could be made.
  static std::unique_ptr<TcpPeerConnection> connect(Worker& w, uint32_t id,
                                                    const core::SocketAddress& from,
                                                    const core::SocketAddress& peer,
                                                    std::string* error);
  // A connection accepted on a relayed address (RFC 6062 §5.3); its id comes with set_id().
  TcpPeerConnection(Worker& w, std::unique_ptr<Stream> stream, const core::SocketAddress& peer,
                    State state, uint32_t id);
  ~TcpPeerConnection() override;

  // Registers its events. False when that failed (close it).
  bool start();
  void set_id(uint32_t id) { id_ = id; }
  State state() const { return state_; }

  // RFC 6062 §5.4: the client's data connection for this peer connection; from now on the two
  // are spliced. `slot` is the data connection's place in the per-address count. Both are
  // taken only when this returns true; a peer connection that ended meanwhile leaves them (the
  // caller is inside the client stream's callback, where the stream must not be destroyed).
  bool bind(std::unique_ptr<Stream>& client, const core::SocketAddress& client_addr,
            std::optional<ConnectionLimits::Slot>& slot);
  // Worker::close_peer: the relay is done with it.
  void close_by_relay();

  // Connection.
  void tick(const relay::Now& now) override;
  void finish(const relay::Now& now) override;

 private:
  // Stream::Handler (Connecting and Pending)
  void stream_connected(Stream& s, int error) override;
  void stream_readable(Stream& s) override;
  void stream_failed(Stream& s, const std::string& why) override;
  // Splice::Owner (Bound)
  void relayed(size_t to_peer, size_t to_client) override;
  void ended(const std::string& why) override;

  // Closes, and tells the relay (once) unless the relay itself closed it.
  void end(const std::string& why);

  Worker& worker_;
  std::unique_ptr<Stream> stream_;  // until bound
  core::SocketAddress peer_;
  State state_;
  uint32_t id_;
  bool relay_knows_ = false;  // the relay closed it, or was told that it closed
  std::optional<ConnectionLimits::Slot> client_slot_;
  std::unique_ptr<Splice> splice_;  // Bound: a = the client's data connection, b = the peer
  std::string reason_;
};

}  // namespace turnpike::net
