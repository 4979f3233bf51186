#include "net/stream_preamble.h"

#include <utility>

#include "core/proxy_protocol.h"
#include "core/tls_client_hello.h"
#include "net/clock.h"
#include "net/log.h"
#include "net/stream_connection.h"
#include "net/tls_mux.h"
#include "net/web_proxy.h"
#include "net/worker.h"

namespace turnpike::net {

StreamPreamble::StreamPreamble(Worker& w, const StreamListenerSpec& spec,
                               std::unique_ptr<Stream> stream, const core::SocketAddress& peer,
                               std::optional<ConnectionLimits::Slot> slot, int64_t now_ms)
    : worker_(w),
      spec_(spec),
      stream_(std::move(stream)),
      peer_(peer),
      slot_(std::move(slot)),
      stage_(spec.proxy_protocol ? Stage::ProxyHeader : Stage::Classify),
      since_ms_(now_ms) {}

StreamPreamble::~StreamPreamble() = default;

bool StreamPreamble::start() {
  if (!stream_->attach(worker_.stream_loop(), *this)) return false;
  if (stage_ == Stage::ProxyHeader && !from_trusted_proxy()) {
    close(peer_.ip().to_string() +
              " is not a trusted proxy: it may not send PROXY headers (proxy-trusted-ip)",
          true);
  }
  return true;
}

bool StreamPreamble::from_trusted_proxy() const {
  for (const auto& r : worker_.stream_settings().proxy_trusted) {
    if (r.contains(peer_.ip())) return true;
  }
  return false;
}

void StreamPreamble::stream_readable(Stream& s) {
  if (closing()) return;
  if (stage_ == Stage::ProxyHeader) read_proxy_header();
  if (!closing() && stream_ && stage_ == Stage::Classify) route_mux();
  if (!closing() && stream_ && s.read_ended()) close("closed by the client", false);
}

void StreamPreamble::stream_failed(Stream& s, const std::string& why) {
  close(why, s.tls_failed());
}

void StreamPreamble::read_proxy_header() {
  core::ProxyHeader h;
  switch (core::parse_proxy_header(stream_->input(), &h)) {
    case core::ProxyStatus::NeedMore:
      if (stream_->input().size() >= core::kMaxProxyHeader)
        close("no PROXY protocol header (this port expects one from a proxy)", true);
      return;  // wait for the rest of the header
    case core::ProxyStatus::Invalid:
      close("no valid PROXY protocol header (this port expects one from a proxy)", true);
      return;
    case core::ProxyStatus::Ok:
      break;
  }
  // LOCAL (a proxy's health check) and unknown families keep the socket's own address.
  if (h.source) peer_ = *h.source;
  // The per-address limit counts the real client, not the proxy.
  ConnectionCap cap = ConnectionCap::None;
  auto slot = worker_.limits().acquire(peer_.ip(), &cap);
  if (!slot) {
    close(worker_.limits().refusal_text(cap) + " for " + peer_.ip().to_string(), true);
    return;
  }
  slot_ = std::move(*slot);
  stream_->consume(h.size);
  if (spec_.kind == StreamKind::Mux) {
    stage_ = Stage::Classify;
    return;
  }
  to_turn(spec_.kind == StreamKind::Tls);
}

void StreamPreamble::route_mux() {
  const core::Bytes first = stream_->input();
  core::ClientHelloInfo hello;
  switch (core::parse_client_hello(first, &hello)) {
    case core::HelloStatus::NeedMore:
      if (stream_->input_full()) {
        close("a TLS ClientHello larger than " + std::to_string(stream_->input_limit()) + " bytes",
              true);
      }
      return;
    case core::HelloStatus::Invalid:
      close("a malformed TLS ClientHello", true);
      return;
    case core::HelloStatus::NotTls:
      switch (classify_plain(first)) {
        case PlainStart::NeedMore:
          return;
        case PlainStart::Other:
          close("neither TLS nor STUN", true);
          return;
        case PlainStart::Stun:
          to_turn(false);  // TURN over plain TCP on the shared port
          return;
      }
      return;
    case core::HelloStatus::Ok:
      break;
  }
  if (mux_route(hello, worker_.stream_settings().mux) == MuxRoute::Web) {
    to_web();
  } else {
    to_turn(true);
  }
}

void StreamPreamble::to_turn(bool tls) {
  if (tls) {
    const TlsContextsPtr& ctx = worker_.tls();
    if (!ctx) {
      close("no TLS certificate is loaded", true);
      return;
    }
    stream_->start_tls(ctx->tls.get());  // what input() holds is the ClientHello (or its start)
  }
  const relay::Now t = now();
  auto c = std::make_unique<StreamConnection>(worker_, spec_, std::move(stream_), peer_,
                                              std::move(slot_), since_ms_);
  StreamConnection& ref = worker_.connections().add(std::move(c));
  reason_ = "handed on";
  worker_.connections().close(*this);
  if (!ref.start(t)) worker_.connections().close(ref);
}

void StreamPreamble::to_web() {
  // The web proxy takes the stream, what was read so far (the ClientHello, forwarded byte for
  // byte) and this connection's place in the per-address count.
  auto p = std::make_unique<WebProxy>(worker_, std::move(stream_), peer_, spec_.address,
                                      std::move(slot_), now().mono_ms);
  WebProxy& ref = worker_.connections().add(std::move(p));
  reason_ = "handed on";
  worker_.connections().close(*this);
  if (!ref.start()) worker_.connections().close(ref);
}

void StreamPreamble::close(const std::string& why, bool notice) {
  if (closing()) return;
  reason_ = why;
  if (stream_) stream_->close_now();
  if (notice && worker_.log_budget().take(now().mono_ms)) {
    log(LogLevel::Notice, "closing ", stream_kind_name(spec_.kind), " connection from ",
        peer_.to_string(), " on ", spec_.address.to_string(), ": ", why);
  }
  worker_.connections().close(*this);
}

void StreamPreamble::tick(const relay::Now& now) {
  const uint32_t limit_s = worker_.stream_settings().idle_timeout_s;
  if (limit_s && now.mono_ms - since_ms_ >= int64_t(limit_s) * 1000) {
    close("no allocation for " + std::to_string(limit_s) + " s (max-allocate-timeout)", true);
  }
}

void StreamPreamble::finish(const relay::Now&) {
  if (stream_) {
    log(LogLevel::Info, stream_kind_name(spec_.kind), " connection from ", peer_.to_string(),
        " closed: ", reason_);
  }
}

}  // namespace turnpike::net
