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
  return std::make_unique<TcpPeerConnection>(w, std::move(fd), peer, State::Connecting, id);
}

TcpPeerConnection::TcpPeerConnection(Worker& w, UniqueFd fd, const core::SocketAddress& peer,
                                     State state, uint32_t id)
    : worker_(w), fd_(std::move(fd)), peer_(peer), state_(state), id_(id) {}

TcpPeerConnection::~TcpPeerConnection() = default;

bool TcpPeerConnection::start() {
  read_ev_.reset(event_new(worker_.base(), fd_.get(), EV_READ | EV_PERSIST,
                           &TcpPeerConnection::on_readable, this));
  if (!read_ev_) return false;
  if (state_ == State::Connecting) {
    // Writable once the connect succeeded or failed (the outcome is in SO_ERROR).
    connect_ev_.reset(
        event_new(worker_.base(), fd_.get(), EV_WRITE, &TcpPeerConnection::on_connected, this));
    return connect_ev_ && event_add(connect_ev_.get(), nullptr) == 0;
  }
  return event_add(read_ev_.get(), nullptr) == 0;
}

void TcpPeerConnection::on_connected(evutil_socket_t, short, void* arg) {
  static_cast<TcpPeerConnection*>(arg)->connected();
}

void TcpPeerConnection::connected() {
  if (closing()) return;
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  const relay::Now t = now();
  if (err) {
    reason_ = std::string("connect failed: ") + std::strerror(err);
    // The relay answers 447 and closes this (close_peer).
    relay_knows_ = true;
    worker_.server().on_peer_connected(id_, false, t);
    worker_.connections().close(*this);
    return;
  }
  state_ = State::Pending;
  event_add(read_ev_.get(), nullptr);
  worker_.server().on_peer_connected(id_, true, t);
}

void TcpPeerConnection::on_readable(evutil_socket_t, short, void* arg) {
  static_cast<TcpPeerConnection*>(arg)->readable();
}

void TcpPeerConnection::readable() {
  if (closing() || state_ != State::Pending) return;
  // RFC 6062 §5.3: kept for the client until the ConnectionBind, within a bounded buffer.
  if (!pending_.capacity()) pending_ = ByteBuffer(TcpDataPair::kBuffer);
  for (;;) {
    core::MutableBytes space = pending_.space();
    if (space.empty()) {
      event_del(read_ev_.get());  // full: TCP flow control holds the peer until the bind
      return;
    }
    const ssize_t n = ::recv(fd_.get(), space.data(), space.size(), 0);
    if (n > 0) {
      pending_.commit(size_t(n));
      if (size_t(n) < space.size()) return;
      continue;
    }
    if (n == 0) return end("closed by the peer before the ConnectionBind");
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    return end(std::string("receive failed: ") + std::strerror(errno));
  }
}

void TcpPeerConnection::bind(StreamHandoff client) {
  // A connection that ended meanwhile (its end has reached the relay, or is on its way) drops
  // the client's: the client sees its data connection close, as the peer's did.
  if (closing() || state_ != State::Pending) return;
  state_ = State::Bound;
  read_ev_.reset();
  log(LogLevel::Info, "tcp peer ", peer_.to_string(), " connection ", connection_name(id_),
      " bound to the data connection from ", client.peer.to_string());
  pair_ = std::make_unique<TcpDataPair>(worker_.base(), *this, std::move(fd_), std::move(pending_),
                                        std::move(client));
  pair_->start(now().mono_ms);
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
  if (pair_) pair_->stop();
  connect_ev_.reset();
  read_ev_.reset();
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
  if (pair_) pair_->tick(now.mono_ms);
}

void TcpPeerConnection::finish(const relay::Now&) {
  if (pair_) {
    log(LogLevel::Info, "tcp peer ", peer_.to_string(), " connection ", connection_name(id_),
        " closed (", reason_, "): ", pair_->bytes_to_peer(), " B to the peer, ",
        pair_->bytes_to_client(), " B to the client");
  } else {
    log(LogLevel::Info, "tcp peer ", peer_.to_string(), " connection ", connection_name(id_),
        " closed: ", reason_);
  }
}

}  // namespace turnpike::net
