#include "net/tcp_peer_connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "net/clock.h"
#include "net/log.h"
#include "net/sockets.h"
#include "net/worker.h"

namespace turnpike::net {
namespace {

std::string connection_name(uint32_t id) {
  char b[16];
  std::snprintf(b, sizeof b, "%08x", id);
  return b;
}

}  // namespace

Stream::Limits TcpPeerConnection::limits() {
  Stream::Limits l;
  l.in = kPeerInput;
  l.out = 64 * 1024;
  l.in_initial = l.out_initial = 16384;  // bulk data: reads and sends of a useful size
  return l;
}

std::unique_ptr<TcpPeerConnection> TcpPeerConnection::connect(Worker& w, uint32_t id,
                                                              const core::SocketAddress& from,
                                                              const core::SocketAddress& peer,
                                                              std::string* error) {
  // RFC 6062 §5.2: from the relayed transport address, where the allocation's listener is; both
  // have SO_REUSEPORT (RelayPorts::bind_tcp_listener). A connecting socket never takes the
  // listener's incoming connections.
  UniqueFd fd = new_socket(from.ip().family(), SOCK_STREAM, {.reuseaddr = true, .reuseport = true});
  if (!fd) {
    *error = std::string("socket(): ") + std::strerror(errno);
    return nullptr;
  }
  const int one = 1;
  setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (!bind_to(fd.get(), from)) {
    *error = "cannot bind " + from.to_string() + ": " + std::strerror(errno);
    return nullptr;
  }
  sockaddr_storage ss;
  const socklen_t len = peer.to_sockaddr(ss);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS) {
    // Refusals arrive later, through the socket; this is what fails at once (no route, the
    // 4-tuple in use, ...). The Connect fails with 447 either way.
    *error = "cannot connect to " + peer.to_string() + ": " + std::strerror(errno);
    return nullptr;
  }
  auto s = std::make_unique<Stream>(std::move(fd), limits(), /*connecting=*/true);
  return std::make_unique<TcpPeerConnection>(w, std::move(s), peer, State::Connecting, id);
}

TcpPeerConnection::TcpPeerConnection(Worker& w, std::unique_ptr<Stream> stream,
                                     const core::SocketAddress& peer, State state, uint32_t id)
    : worker_(w), stream_(std::move(stream)), peer_(peer), state_(state), id_(id) {}

TcpPeerConnection::~TcpPeerConnection() = default;

bool TcpPeerConnection::start() {
  return stream_->attach(worker_.stream_loop(), *this);
}

void TcpPeerConnection::stream_connected(Stream&, int error) {
  if (closing()) return;
  const relay::Now t = now();
  if (error) {
    reason_ = std::string("connect failed: ") + std::strerror(error);
    // The relay answers 447 and closes this (close_peer).
    relay_knows_ = true;
    worker_.server().on_peer_connected(id_, false, t);
    worker_.connections().close(*this);
    return;
  }
  state_ = State::Pending;
  worker_.server().on_peer_connected(id_, true, t);
}

void TcpPeerConnection::stream_readable(Stream& s) {
  // RFC 6062 §5.3: kept for the client until the ConnectionBind; the stream stops reading once
  // its input is full.
  if (closing() || state_ != State::Pending) return;
  if (s.read_ended()) end("closed by the peer before the ConnectionBind");
}

void TcpPeerConnection::stream_failed(Stream&, const std::string& why) {
  end(why);
}

bool TcpPeerConnection::bind(std::unique_ptr<Stream>& client,
                             const core::SocketAddress& client_addr,
                             std::optional<ConnectionLimits::Slot>& slot) {
  // A connection that ended meanwhile (its end has reached the relay, or is on its way) drops
  // the client's: the client sees its data connection close, as the peer's did.
  if (closing() || state_ != State::Pending) return false;
  state_ = State::Bound;
  client_slot_ = std::move(slot);
  log(LogLevel::Info, "tcp peer ", peer_.to_string(), " connection ", connection_name(id_),
      " bound to the data connection from ", client_addr.to_string());
  // What the peer sent before the bind is in its stream's input and goes first; what the client
  // sent after its ConnectionBind is in the client's input, after the ConnectionBind response
  // still queued there.
  splice_ = std::make_unique<Splice>(worker_.stream_loop(), static_cast<Splice::Owner&>(*this),
                                     std::move(client), std::move(stream_), Splice::Options{});
  splice_->start(now().mono_ms);
  return true;
}

void TcpPeerConnection::close_by_relay() {
  relay_knows_ = true;
  if (reason_.empty())
    reason_ = "closed by the relay (allocation ended, ConnectionBind timeout or connect failure)";
  end(reason_);
}

void TcpPeerConnection::end(const std::string& why) {
  if (closing()) return;
  if (reason_.empty()) reason_ = why;
  if (splice_) splice_->stop();
  if (stream_) stream_->close_now();
  worker_.connections().close(*this);
  if (!relay_knows_) {
    relay_knows_ = true;
    worker_.server().on_peer_closed(id_,
                                    now());  // the relay calls close_peer: nothing more happens
  }
}

void TcpPeerConnection::relayed(size_t to_peer, size_t to_client) {
  worker_.server().on_tcp_relayed(id_, to_peer, to_client);
}

void TcpPeerConnection::ended(const std::string& why) {
  end(why);
}

void TcpPeerConnection::tick(const relay::Now& now) {
  if (splice_) splice_->tick(now.mono_ms);
}

void TcpPeerConnection::finish(const relay::Now&) {
  if (splice_) {
    log(LogLevel::Info, "tcp peer ", peer_.to_string(), " connection ", connection_name(id_),
        " closed (", reason_, "): ", splice_->a_to_b(), " B to the peer, ", splice_->b_to_a(),
        " B to the client");
  } else {
    log(LogLevel::Info, "tcp peer ", peer_.to_string(), " connection ", connection_name(id_),
        " closed: ", reason_);
  }
}

}  // namespace turnpike::net
