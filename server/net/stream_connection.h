// One TURN client over TCP or TLS (RFC 8656 §3.1): a ClientTransport for the relay, a
// Connection of its worker.
//
// The bytes of a connection pass through these stages, each optional:
//   PROXY header (tcp-proxy-port, tls-proxy-port)  ->  ClientHello routing (mux port)  ->
//   TLS (tls ports, or the mux's TURN route)       ->  framing: STUN and ChannelData messages
// (RFC 8489 §6.2.2 and RFC 8656 §12.5: a STUN message is 20 bytes plus its length; ChannelData
// is 4 bytes plus its length, padded to a multiple of 4 over streams; all arithmetic 32-bit).
// Each complete message goes to relay::Server::on_client_packet; when the connection closes,
// its allocation is ended with it (RFC 8656 §3.1).
//
// Memory is bounded per connection: one message of at most kMaxFrame bytes is buffered
// inbound (a longer one closes the connection), and at most kOutboundSize bytes outbound.
// A client that reads slower than its peers send is not allowed to grow that: whole messages
// that do not fit are DROPPED (counted in the worker's send drops), as a congested UDP path
// would drop them; media survives loss, and the connection stays usable.
//
// RFC 6062 §5.4: a connection whose ConnectionBind succeeded stops carrying STUN right after
// that message: it leaves this object (StreamHandoff) to become the client side of the peer
// connection's TcpDataPair. A ConnectionBind for an id another worker owns makes the connection
// leave for that worker (relay/connection_ids.h), where a new StreamConnection takes it up and
// handles the ConnectionBind again.
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
#include "net/libevent_ptr.h"
#include "net/stream_handoff.h"
#include "net/tcp_listener.h"
#include "net/tls_stream.h"
#include "net/unique_fd.h"

namespace turnpike::net {

class Worker;
class TcpPeerConnection;

class StreamConnection final : public Connection, public ClientTransport {
 public:
  // The largest STUN or ChannelData message accepted from a client. (Peer datagrams larger than
  // RecvBatch::kMaxPayload never reach a client anyway.)
  static constexpr size_t kMaxFrame = 16384;
  // Plain TCP: what may wait for the client to read. TLS uses TlsStream::kOutboundSize.
  static constexpr size_t kOutboundSize = 32768;

  // `slot` is empty on PROXY-protocol listeners: the client is only known after the header.
  StreamConnection(Worker& w, const StreamListenerSpec& spec, UniqueFd fd,
                   const core::SocketAddress& peer, std::optional<ConnectionLimits::Slot> slot,
                   int64_t now_ms);
  // A connection that moved here from another worker (RFC 6062 ConnectionBind, see above).
  StreamConnection(Worker& w, StreamHandoff moved, int64_t now_ms);
  ~StreamConnection() override;

  // Registers the socket's events. False (and the connection should be dropped) on failure.
  bool start();
  // The same for a connection that moved here; then handles what it had received (its
  // ConnectionBind first).
  bool start_moved(const relay::Now& now);

  // RFC 6062 §5.4, during the ConnectionBind being handled: after it, the connection becomes the
  // data connection of `p`, or moves to worker `w` (false if it moved once already).
  void detach_to_peer(TcpPeerConnection* p);
  bool detach_to_worker(Worker& w);

  // relay's ClientTransport.
  void send(const core::SocketAddress& to, core::Bytes data) override;
  relay::Transport kind() const override {
    return tls_ ? relay::Transport::Tls : relay::Transport::Tcp;
  }
  StreamConnection* as_stream() override { return this; }

  // Connection.
  void tick(const relay::Now& now) override;
  void finish(const relay::Now& now) override;

 private:
  enum class Stage : uint8_t { ProxyHeader, Classify, Tls, Frames };

  static void on_read(evutil_socket_t, short, void* arg);
  static void on_write(evutil_socket_t, short, void* arg);
  void readable();
  void writable();

  // Runs the stages over what has been received. False when the connection is closing.
  bool advance(const relay::Now& now);
  bool read_proxy_header();
  bool from_trusted_proxy() const;  // proxy-trusted-ip
  bool route_mux();
  bool begin_tls();
  bool pump_tls(const relay::Now& now);
  bool deliver_frames(const relay::Now& now);
  void hand_off_to_web();
  // RFC 6062: leaves for the TcpDataPair or the other worker (detach_*); the message being
  // handled is bytes [frame, frame + size) of in_.
  void hand_off(size_t frame, size_t size);
  void register_client();
  bool start_reading();  // the connection's events, reading armed

  // Sends what is queued. False when the connection is closing.
  bool flush();
  void arm_write(bool on);
  void pause_reading(bool on);
  bool queue_plain(core::Bytes data);

  // Closes: `notice` lines are logged at notice level (rate-limited), others only when verbose.
  void close(const std::string& why, bool notice = false);

  Worker& worker_;
  StreamListenerSpec spec_;
  UniqueFd fd_;
  EventPtr read_ev_;  // destroyed before fd_ closes
  EventPtr write_ev_;
  core::SocketAddress peer_;  // the client: the socket's peer, or the PROXY header's source
  std::optional<ConnectionLimits::Slot> slot_;
  Stage stage_;
  bool registered_ = false;  // tuple_ is final and the relay may know it
  bool write_armed_ = false;
  bool reading_paused_ = false;
  bool tls_wants_write_ = false;  // TLS could not go on until the outbound buffer drains
  bool handshake_logged_ = false;
  relay::FiveTuple tuple_;
  relay::ClientRef ref_;
  int64_t idle_since_ms_;
  uint64_t dropped_ = 0;  // messages to the client dropped for lack of room
  std::string close_reason_;
  // RFC 6062 hand-off requested while a ConnectionBind is handled.
  enum class Detach : uint8_t { None, ToPeer, ToWorker };
  Detach detach_ = Detach::None;
  TcpPeerConnection* detach_peer_ = nullptr;
  Worker* detach_worker_ = nullptr;
  bool moved_in_ = false;  // came from another worker: never moves again

  std::unique_ptr<uint8_t[]> in_;  // kMaxFrame: plaintext not yet framed
  size_t in_len_ = 0;
  std::unique_ptr<uint8_t[]> out_;  // plain TCP only, allocated when first needed
  size_t out_start_ = 0;
  size_t out_end_ = 0;
  std::unique_ptr<TlsStream> tls_;
};

}  // namespace turnpike::net
