#include "net/tcp_listener.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <utility>

#include "net/clock.h"
#include "net/log.h"
#include "net/sockets.h"
#include "net/stream_connection.h"
#include "net/stream_preamble.h"
#include "net/worker.h"

namespace turnpike::net {

const char* stream_kind_name(StreamKind k) {
  switch (k) {
    case StreamKind::Tcp:
      return "tcp";
    case StreamKind::Tls:
      return "tls";
    case StreamKind::Mux:
      return "tls-mux";
  }
  return "";
}

std::string StreamListenerSpec::describe() const {
  return address.to_string() + "/" + stream_kind_name(kind) + (proxy_protocol ? "+proxy" : "");
}

UniqueFd open_tcp_listener(const core::SocketAddress& addr, std::string* error) {
  // Every worker listens on the same address; the kernel spreads new connections over them.
  UniqueFd fd = new_socket(addr.ip().family(), SOCK_STREAM, {.reuseaddr = true, .reuseport = true});
  if (!fd) {
    *error = std::string("socket(): ") + std::strerror(errno);
    return UniqueFd();
  }
  if (!bind_to(fd.get(), addr)) {
    const int e = errno;
    *error = "cannot bind " + addr.to_string() + "/tcp: " + std::strerror(e);
    if (e == EACCES && addr.port() < 1024) {
      *error +=
          " (ports below 1024 need root or CAP_NET_BIND_SERVICE; run turnpike as root with "
          "proc-user=... and it drops root after binding)";
    }
    return UniqueFd();
  }
  if (::listen(fd.get(), 1024) != 0) {
    *error = "cannot listen on " + addr.to_string() + "/tcp: " + std::strerror(errno);
    return UniqueFd();
  }
  return fd;
}

TcpListener::TcpListener(Worker& w, StreamListenerSpec spec, UniqueFd fd)
    : worker_(w), spec_(std::move(spec)), fd_(std::move(fd)) {
  ev_.reset(event_new(w.base(), fd_.get(), EV_READ | EV_PERSIST, &TcpListener::on_accept, this));
  event_add(ev_.get(), nullptr);
}

void TcpListener::on_accept(evutil_socket_t, short, void* arg) {
  static_cast<TcpListener*>(arg)->accept_ready();
}

void TcpListener::resume_if_paused(int64_t now_ms) {
  if (paused_until_ms_ && now_ms >= paused_until_ms_) {
    paused_until_ms_ = 0;
    event_add(ev_.get(), nullptr);
  }
}

void TcpListener::accept_ready() {
  const relay::Now t = now();
  for (int i = 0; i < 32; ++i) {
    sockaddr_storage ss;
    socklen_t len = sizeof ss;
    UniqueFd fd(
        ::accept4(fd_.get(), reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors: stop accepting for a second rather than spin on a listener that
        // stays readable.
        if (worker_.log_budget().take(t.mono_ms)) {
          log(LogLevel::Warning, "cannot accept on ", spec_.describe(), ": ", std::strerror(errno),
              " (raise LimitNOFILE / ulimit -n?)");
        }
        event_del(ev_.get());
        paused_until_ms_ = t.mono_ms + 1000;
      }
      return;  // EAGAIN, or a connection that went away before it was accepted
    }
    auto peer = core::SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
    if (!peer) continue;
    // Behind a proxy the socket's peer is the proxy; the limit is taken once the PROXY header
    // names the client.
    std::optional<ConnectionLimits::Slot> slot;
    if (!spec_.proxy_protocol) {
      ConnectionCap cap = ConnectionCap::None;
      slot = worker_.limits().acquire(peer->ip(), &cap);
      if (!slot) {
        if (worker_.log_budget().take(t.mono_ms)) {
          log(LogLevel::Notice, "refused ", stream_kind_name(spec_.kind), " connection from ",
              peer->to_string(), ": ", worker_.limits().refusal_text(cap));
        }
        continue;  // `fd` closes
      }
    }
    const int one = 1;
    setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // media: no Nagle delay
    log(LogLevel::Info, stream_kind_name(spec_.kind), " connection from ", peer->to_string(),
        " on ", spec_.address.to_string());
    auto stream = std::make_unique<Stream>(std::move(fd), StreamConnection::limits());
    if (spec_.proxy_protocol || spec_.kind == StreamKind::Mux) {
      // A PROXY header or the shared port's routing comes first.
      auto p = std::make_unique<StreamPreamble>(worker_, spec_, std::move(stream), *peer,
                                                std::move(slot), t.mono_ms);
      StreamPreamble& ref = worker_.connections().add(std::move(p));
      if (!ref.start()) worker_.connections().close(ref);
      continue;
    }
    auto c = std::make_unique<StreamConnection>(worker_, spec_, std::move(stream), *peer,
                                                std::move(slot), t.mono_ms);
    StreamConnection& ref = worker_.connections().add(std::move(c));
    if (!ref.start(t)) worker_.connections().close(ref);
  }
}

}  // namespace turnpike::net
