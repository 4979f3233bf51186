// One TURN client over TCP or TLS (RFC 8656 §3.1): a ClientTransport for the relay, a
// Connection of its worker, over a Stream (net/stream.h) that is plain or TLS.
//
// What comes before TURN on some ports (a PROXY header, the shared port's ClientHello routing)
// has been read by a StreamPreamble before this object exists. What is left is framing: the
// stream's plaintext is a sequence of STUN and ChannelData messages (RFC 8489 §6.2.2 and
// RFC 8656 §12.5: a STUN message is 20 bytes plus its length; ChannelData is 4 bytes plus its
// length, padded to a multiple of 4 over streams; all arithmetic 32-bit). Each complete
// message goes to relay::Server::on_client_packet; when the connection closes, its allocation
// is ended with it (RFC 8656 §3.1).
//
// Memory is bounded per connection: one message of at most kMaxFrame bytes is buffered
// inbound (a longer one closes the connection), and at most kOutboundSize bytes outbound, both
// allocated small on first use and grown only as needed (byte_buffer.h). A client that reads
// slower than its peers send is not allowed to grow that: whole messages that do not fit are
// DROPPED (counted in the worker's send drops), as a congested UDP path would drop them; media
// survives loss, and the connection stays usable. What the relay sends in one round of the
// event loop leaves together at its end (stream_loop.h): one send() for a round's worth of
// ChannelData rather than one each (over TLS, each message stays one record of its own).
//
// RFC 6062 §5.4: a connection whose ConnectionBind succeeded stops carrying STUN right after
// that message: its stream leaves this object to become the client side of the peer
// connection's Splice. A ConnectionBind for an id another worker owns makes the connection
// leave for that worker (relay/connection_ids.h): the stream object itself moves (MovingClient,
// socket, TLS session and buffers, the ConnectionBind still unread in its input), and a new
// StreamConnection there handles the ConnectionBind again.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/socket_address.h"
#include "net/client_transport.h"
#include "net/connection_limits.h"
#include "net/connection_set.h"
#include "net/stream.h"
#include "net/tcp_listener.h"

namespace turnpike::net {

class Worker;
class TcpPeerConnection;

// A client connection on its way to another worker (see above).
struct MovingClient {
  StreamListenerSpec spec;  // the listener it was accepted on
  std::unique_ptr<Stream> stream;
  core::SocketAddress peer;  // the client
  std::optional<ConnectionLimits::Slot> slot;
};

class StreamConnection final : public Connection, public ClientTransport, private Stream::Handler {
 public:
  // The largest STUN or ChannelData message accepted from a client. (Peer datagrams larger than
  // RecvBatch::kMaxPayload never reach a client anyway.)
  static constexpr size_t kMaxFrame = 16384;
  // What may wait for the client to read (TLS: the session's outbound buffer of records).
  static constexpr size_t kOutboundSize = 32768;
  // What a client's stream is given when it is accepted.
  static Stream::Limits limits();

  // `peer`: the client (the socket's peer, or the PROXY header's source).
  StreamConnection(Worker& w, const StreamListenerSpec& spec, std::unique_ptr<Stream> stream,
                   const core::SocketAddress& peer, std::optional<ConnectionLimits::Slot> slot,
                   int64_t now_ms);
  // A connection that moved here from another worker (RFC 6062 ConnectionBind, see above).
  StreamConnection(Worker& w, MovingClient moved, int64_t now_ms);
  ~StreamConnection() override;

  // Takes the stream over (attaching it to this worker's loop if it is not yet) and handles
  // what it holds already. False (and the connection should be dropped) on failure.
  bool start(const relay::Now& now);

  // RFC 6062 §5.4, during the ConnectionBind being handled: after it, the connection becomes the
  // data connection of `p`, or moves to worker `w` (false if it moved once already).
  void detach_to_peer(TcpPeerConnection* p);
  bool detach_to_worker(Worker& w);

  // relay's ClientTransport.
  void send(const core::SocketAddress& to, core::Bytes data) override;
  relay::Transport kind() const override {
    return stream_ && stream_->is_tls() ? relay::Transport::Tls : relay::Transport::Tcp;
  }
  StreamConnection* as_stream() override { return this; }

  // Connection.
  void tick(const relay::Now& now) override;
  void finish(const relay::Now& now) override;

 private:
  // Stream::Handler
  void stream_readable(Stream& s) override;
  void stream_failed(Stream& s, const std::string& why) override;

  // Handles every complete message the stream holds. False when the connection is closing.
  bool deliver_frames(const relay::Now& now);
  // RFC 6062: leaves for the peer connection or the other worker (detach_*); the message being
  // handled is the first `size` bytes of the stream's input.
  void hand_off(size_t size);

  // Closes: `notice` lines are logged at notice level (rate-limited), others only when verbose.
  void close(const std::string& why, bool notice = false);

  Worker& worker_;
  StreamListenerSpec spec_;
  std::unique_ptr<Stream> stream_;
  core::SocketAddress peer_;
  std::optional<ConnectionLimits::Slot> slot_;
  relay::FiveTuple tuple_;
  relay::ClientRef ref_;
  int64_t idle_since_ms_;
  uint64_t dropped_ = 0;  // messages to the client dropped for lack of room
  bool handshake_logged_ = false;
  std::string close_reason_;
  // RFC 6062 hand-off requested while a ConnectionBind is handled.
  enum class Detach : uint8_t { None, ToPeer, ToWorker };
  Detach detach_ = Detach::None;
  TcpPeerConnection* detach_peer_ = nullptr;
  Worker* detach_worker_ = nullptr;
  bool moving_ = false;    // leaving for detach_worker_: the stream goes there in finish()
  bool moved_in_ = false;  // came from another worker: never moves again
};

}  // namespace turnpike::net
