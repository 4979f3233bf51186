#include "net/dtls_listener.h"

#include <optional>
#include <utility>

#include "core/dtls_cookie.h"
#include "core/dtls_hello.h"
#include "net/clock.h"
#include "net/dtls_session.h"
#include "net/log.h"
#include "net/udp.h"
#include "net/worker.h"

namespace turnpike::net {

DtlsListener::DtlsListener(Worker& w, UniqueFd fd, const core::SocketAddress& local)
    : worker_(w), fd_(std::move(fd)), local_(local), plaintext_(new uint8_t[kPlaintextSize]) {
  ev_.reset(event_new(w.base(), fd_.get(), EV_READ | EV_PERSIST, &DtlsListener::on_readable, this));
  event_add(ev_.get(), nullptr);
}

DtlsListener::~DtlsListener() = default;

const core::DtlsCookie& DtlsListener::cookie() const {
  return worker_.dtls_cookie();
}

void DtlsListener::forget(DtlsSession* s) {
  auto it = sessions_.find(s->peer());
  if (it != sessions_.end() && it->second == s) sessions_.erase(it);
}

void DtlsListener::on_readable(evutil_socket_t, short, void* arg) {
  static_cast<DtlsListener*>(arg)->drain();
}

void DtlsListener::drain() {
  const relay::Now t = now();
  RecvBatch& b = worker_.batch();
  for (int round = 0; round < 4; ++round) {
    const int n = b.receive(fd_.get());
    for (int i = 0; i < n; ++i) {
      if (b.truncated(unsigned(i))) continue;
      auto src =
          core::SocketAddress::from_sockaddr(b.source(unsigned(i)), b.source_len(unsigned(i)));
      if (!src) continue;
      datagram(core::Bytes(b.payload(unsigned(i)), b.length(unsigned(i))), *src, t);
    }
    if (n < int(RecvBatch::kCount)) break;
  }
}

void DtlsListener::datagram(core::Bytes d, const core::SocketAddress& src, const relay::Now& now) {
  auto it = sessions_.find(src);
  if (it != sessions_.end() && !it->second->closing()) {
    DtlsSession* s = it->second;
    // A new ClientHello on an established session means the client started over from the
    // same address: it goes through the cookie exchange again, and replaces the old session
    // only once it has returned a cookie.
    if (!(s->established() && core::parse_dtls_client_hello(d))) {
      s->on_datagram(d, now);
      return;
    }
  }
  stateless(d, src, now);
}

void DtlsListener::stateless(core::Bytes d, const core::SocketAddress& src, const relay::Now& now) {
  const auto hello = core::parse_dtls_client_hello(d);
  if (!hello) {
    ++stats_.ignored;
    return;
  }
  const core::DtlsCookie& c = cookie();
  if (hello->cookie.empty() || !c.verify(hello->cookie, src, now.unix_s())) {
    // RFC 6347 §4.2.1: HelloVerifyRequest, from the datagram alone. It is never larger than
    // the ClientHello it answers (no amplification for a spoofed source).
    uint8_t cookie[core::DtlsCookie::kSize];
    c.make(src, now.unix_s(), cookie);
    uint8_t out[core::kDtlsHelloVerifyOverhead + core::DtlsCookie::kSize];
    const size_t n =
        core::write_hello_verify_request(*hello, core::Bytes(cookie, sizeof cookie), out);
    if (n <= d.size()) {
      send_datagram(fd_.get(), src, core::Bytes(out, n));
      ++stats_.hello_verify_requests;
    } else {
      ++stats_.ignored;
    }
    return;
  }
  const TlsContextsPtr& tls = worker_.tls();
  if (!tls || !tls->dtls) {
    ++stats_.refused;
    return;
  }
  // The client proved it receives at this address: now, and only now, state is created.
  if (auto it = sessions_.find(src); it != sessions_.end()) {
    worker_.connections().close(*it->second);  // it started over (see datagram())
    sessions_.erase(it);
  }
  ConnectionCap cap = ConnectionCap::None;
  auto slot = worker_.limits().acquire(src.ip(), &cap);
  if (!slot) {
    ++stats_.refused;
    if (worker_.log_budget().take(now.mono_ms)) {
      log(LogLevel::Notice, "refused dtls session from ", src.to_string(), ": ",
          worker_.limits().refusal_text(cap));
    }
    return;
  }
  auto session = std::make_unique<DtlsSession>(*this, src, std::move(*slot), now.mono_ms);
  DtlsSession& s = worker_.connections().add(std::move(session));
  sessions_[src] = &s;
  ++stats_.sessions;
  s.begin(tls->dtls.get(), d, now);
}

}  // namespace turnpike::net
