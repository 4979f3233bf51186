#include "net/web_proxy.h"

#include <event2/buffer.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <utility>

#include "core/proxy_protocol.h"
#include "net/clock.h"
#include "net/log.h"
#include "net/worker.h"

namespace turnpike::net {

WebProxy::WebProxy(Worker& w, UniqueFd client, const core::SocketAddress& client_addr,
                   const core::SocketAddress& local, std::optional<ConnectionLimits::Slot> slot)
    : worker_(w), client_addr_(client_addr), local_(local), slot_(std::move(slot)) {
  client_.reset(bufferevent_socket_new(w.base(), client.release(), BEV_OPT_CLOSE_ON_FREE));
}

WebProxy::~WebProxy() = default;

bool WebProxy::start(core::Bytes first) {
  backend_.reset(bufferevent_socket_new(worker_.base(), -1, BEV_OPT_CLOSE_ON_FREE));
  if (!client_ || !backend_) {
    end("out of memory", true);
    return false;
  }
  for (bufferevent* b : {client_.get(), backend_.get()}) {
    bufferevent_setcb(b, &WebProxy::on_read, &WebProxy::on_write, &WebProxy::on_event, this);
  }
  evbuffer* to_backend = bufferevent_get_output(backend_.get());
  if (worker_.stream_settings().mux.proxy_protocol) {
    // PROXY protocol §2.2: the header comes first, before any byte of the client.
    uint8_t header[core::kProxyV2MaxWritten];
    const size_t n = core::write_proxy_v2(client_addr_, local_, header);
    evbuffer_add(to_backend, header, n);
  }
  evbuffer_add(to_backend, first.data(), first.size());
  sockaddr_storage ss;
  const socklen_t len = worker_.stream_settings().mux.web_backend.to_sockaddr(ss);
  // A backend that does not answer within 10 s is given up (the timeout covers the connect).
  const timeval connect_timeout{10, 0};
  bufferevent_set_timeouts(backend_.get(), nullptr, &connect_timeout);
  if (bufferevent_socket_connect(backend_.get(), reinterpret_cast<sockaddr*>(&ss), int(len)) != 0) {
    end("cannot connect to mux-web-backend " +
            worker_.stream_settings().mux.web_backend.to_string() + ": " + std::strerror(errno),
        true);
    return false;
  }
  // Nothing is read from the client until the backend is there to take it.
  bufferevent_disable(client_.get(), EV_READ);
  return true;
}

void WebProxy::on_read(bufferevent* bev, void* arg) {
  static_cast<WebProxy*>(arg)->moved(bev);
}
void WebProxy::on_write(bufferevent* bev, void* arg) {
  static_cast<WebProxy*>(arg)->drained(bev);
}
void WebProxy::on_event(bufferevent* bev, short what, void* arg) {
  static_cast<WebProxy*>(arg)->event(bev, what);
}

void WebProxy::moved(bufferevent* from) {
  if (closing()) return;
  bufferevent* to = other(from);
  evbuffer* out = bufferevent_get_output(to);
  evbuffer_add_buffer(out, bufferevent_get_input(from));
  if (evbuffer_get_length(out) >= kMaxBuffered) {
    // Back-pressure: stop reading `from` until `to` has taken half of it.
    bufferevent_disable(from, EV_READ);
    bufferevent_setwatermark(to, EV_WRITE, kMaxBuffered / 2, 0);
  }
}

void WebProxy::drained(bufferevent* to) {
  if (closing()) return;
  if (draining_) {
    if (evbuffer_get_length(bufferevent_get_output(to)) == 0) end(reason_);
    return;
  }
  // `to` took enough: read its source again.
  bufferevent_setwatermark(to, EV_WRITE, 0, 0);
  bufferevent_enable(other(to), EV_READ);
}

void WebProxy::event(bufferevent* bev, short what) {
  if (closing()) return;
  if (bev == backend_.get() && (what & BEV_EVENT_CONNECTED)) {
    connected_ = true;
    bufferevent_set_timeouts(backend_.get(), nullptr, nullptr);
    const int one = 1;
    setsockopt(bufferevent_getfd(backend_.get()), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    bufferevent_enable(backend_.get(), EV_READ | EV_WRITE);
    bufferevent_enable(client_.get(), EV_READ | EV_WRITE);
    return;
  }
  if (draining_) {
    end(reason_);  // the side being drained failed too: nothing more can be delivered
    return;
  }
  const bool from_client = bev == client_.get();
  if (!connected_ && !from_client) {
    const char* why =
        (what & BEV_EVENT_TIMEOUT) ? "timed out" : std::strerror(EVUTIL_SOCKET_ERROR());
    end("cannot connect to mux-web-backend " +
            worker_.stream_settings().mux.web_backend.to_string() + ": " + why,
        true);
    return;
  }
  // EOF or an error on one side: hand the other what is still buffered for it, then end.
  std::string why = std::string(from_client ? "client" : "web backend") +
                    ((what & BEV_EVENT_EOF) ? " closed" : " failed");
  bufferevent* to = other(bev);
  bufferevent_disable(bev, EV_READ);
  if ((what & BEV_EVENT_EOF) && evbuffer_get_length(bufferevent_get_input(bev))) moved(bev);
  if (evbuffer_get_length(bufferevent_get_output(to)) == 0) {
    end(why);
    return;
  }
  draining_ = true;
  reason_ = why;
  bufferevent_disable(to, EV_READ);
  bufferevent_setwatermark(to, EV_WRITE, 0, 0);
}

void WebProxy::end(const std::string& why, bool notice) {
  if (closing()) return;
  reason_ = why;
  if (notice && worker_.log_budget().take(now().mono_ms)) {
    log(LogLevel::Notice, "web connection from ", client_addr_.to_string(), " on ",
        local_.to_string(), ": ", why);
  }
  for (bufferevent* b : {client_.get(), backend_.get()}) {
    if (b) bufferevent_disable(b, EV_READ | EV_WRITE);
  }
  worker_.connections().close(*this);
}

void WebProxy::finish(const relay::Now&) {
  log(LogLevel::Info, "web connection from ", client_addr_.to_string(), " forwarded to ",
      worker_.stream_settings().mux.web_backend.to_string(), " ended: ", reason_);
}

}  // namespace turnpike::net
