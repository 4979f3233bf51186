#include "net/web_proxy.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <utility>

#include "core/proxy_protocol.h"
#include "net/clock.h"
#include "net/log.h"
#include "net/sockets.h"
#include "net/worker.h"

namespace turnpike::net {

WebProxy::WebProxy(Worker& w, std::unique_ptr<Stream> client,
                   const core::SocketAddress& client_addr, const core::SocketAddress& local,
                   std::optional<ConnectionLimits::Slot> slot, int64_t now_ms)
    : worker_(w),
      client_(std::move(client)),
      client_addr_(client_addr),
      local_(local),
      slot_(std::move(slot)),
      connect_deadline_ms_(now_ms + kConnectTimeoutMs) {}

WebProxy::~WebProxy() = default;

bool WebProxy::start() {
  const core::SocketAddress& to = worker_.stream_settings().mux.web_backend;
  // Nothing more is read from the client until the backend is there to take it.
  client_->set_handler(*this);
  client_->pause_reading(true);
  client_->raise_limits(kClientIn, kClientOut);
  UniqueFd fd = new_socket(to.ip().family(), SOCK_STREAM);
  sockaddr_storage ss;
  const socklen_t len = to.to_sockaddr(ss);
  if (!fd ||
      (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS)) {
    end("cannot connect to mux-web-backend " + to.to_string() + ": " + std::strerror(errno), true);
    return false;
  }
  const int one = 1;
  setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  Stream::Limits l;
  l.in = kBackendIn;
  l.out = kBackendOut;
  l.in_initial = l.out_initial = 16384;
  backend_ = std::make_unique<Stream>(std::move(fd), l, /*connecting=*/true);
  if (!backend_->attach(worker_.stream_loop(), *this)) {
    end("out of memory", true);
    return false;
  }
  if (worker_.stream_settings().mux.proxy_protocol) {
    // PROXY protocol §2.2: the header comes first, before any byte of the client.
    uint8_t header[core::kProxyV2MaxWritten];
    const size_t n = core::write_proxy_v2(client_addr_, local_, header);
    backend_->write_whole(core::Bytes(header, n));
  }
  return true;
}

void WebProxy::stream_connected(Stream&, int error) {
  if (closing()) return;
  if (error) {
    end("cannot connect to mux-web-backend " +
            worker_.stream_settings().mux.web_backend.to_string() + ": " + std::strerror(error),
        true);
    return;
  }
  client_->pause_reading(false);
  Splice::Options o;
  o.end = Splice::End::HalfClose;
  o.drain_ms = int64_t(worker_.stream_settings().mux.drain_timeout_s) * 1000;
  o.a_name = "client";
  o.b_name = "web backend";
  splice_ = std::make_unique<Splice>(worker_.stream_loop(), static_cast<Splice::Owner&>(*this),
                                     std::move(client_), std::move(backend_), o);
  splice_->start(now().mono_ms);
}

void WebProxy::stream_failed(Stream& s, const std::string& why) {
  end(std::string(&s == client_.get() ? "client: " : "web backend: ") + why);
}

void WebProxy::tick(const relay::Now& now) {
  if (splice_) {
    splice_->tick(now.mono_ms);
  } else if (now.mono_ms >= connect_deadline_ms_) {
    end("cannot connect to mux-web-backend " +
            worker_.stream_settings().mux.web_backend.to_string() + ": timed out",
        true);
  }
}

void WebProxy::end(const std::string& why, bool notice) {
  if (closing()) return;
  reason_ = why;
  if (notice && worker_.log_budget().take(now().mono_ms)) {
    log(LogLevel::Notice, "web connection from ", client_addr_.to_string(), " on ",
        local_.to_string(), ": ", why);
  }
  if (splice_) splice_->stop();
  if (client_) client_->close_now();
  if (backend_) backend_->close_now();
  worker_.connections().close(*this);
}

void WebProxy::finish(const relay::Now&) {
  log(LogLevel::Info, "web connection from ", client_addr_.to_string(), " forwarded to ",
      worker_.stream_settings().mux.web_backend.to_string(), " ended: ", reason_);
}

}  // namespace turnpike::net
