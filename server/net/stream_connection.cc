#include "net/stream_connection.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/proxy_protocol.h"
#include "core/stream_framing.h"
#include "core/stun_types.h"
#include "core/tls_client_hello.h"
#include "net/clock.h"
#include "net/log.h"
#include "net/tcp_peer_connection.h"
#include "net/tls_mux.h"
#include "net/web_proxy.h"
#include "net/worker.h"

namespace turnpike::net {

StreamConnection::StreamConnection(Worker& w, const StreamListenerSpec& spec, UniqueFd fd,
                                   const core::SocketAddress& peer,
                                   std::optional<ConnectionLimits::Slot> slot, int64_t now_ms)
    : worker_(w),
      spec_(spec),
      fd_(std::move(fd)),
      peer_(peer),
      slot_(std::move(slot)),
      idle_since_ms_(now_ms),
      in_(new uint8_t[kMaxFrame]) {
  stage_ = spec.proxy_protocol            ? Stage::ProxyHeader
           : spec.kind == StreamKind::Mux ? Stage::Classify
           : spec.kind == StreamKind::Tls ? Stage::Tls
                                          : Stage::Frames;
}

StreamConnection::StreamConnection(Worker& w, StreamHandoff moved, int64_t now_ms)
    : worker_(w),
      spec_(moved.spec),
      fd_(std::move(moved.fd)),
      peer_(moved.peer),
      slot_(std::move(moved.slot)),
      stage_(moved.tls ? Stage::Tls : Stage::Frames),
      idle_since_ms_(now_ms),
      in_(new uint8_t[kMaxFrame]),
      tls_(std::move(moved.tls)) {
  moved_in_ = true;
  // Both fit: they came out of the same buffers on the other worker.
  in_len_ = std::min(moved.unread.size(), kMaxFrame);
  std::memcpy(in_.get(), moved.unread.data(), in_len_);
  if (!moved.unsent.empty()) {
    out_.reset(new uint8_t[kOutboundSize]);
    out_end_ = std::min(moved.unsent.size(), kOutboundSize);
    std::memcpy(out_.get(), moved.unsent.data(), out_end_);
  }
}

StreamConnection::~StreamConnection() {
  // A connection torn down without close() (the worker stopping) still ends TLS politely; after
  // close() this does nothing (close_notify is sent once).
  if (tls_) send_close_notify(*tls_, fd_.get());
}

bool StreamConnection::start_reading() {
  read_ev_.reset(
      event_new(worker_.base(), fd_.get(), EV_READ | EV_PERSIST, &StreamConnection::on_read, this));
  write_ev_.reset(event_new(worker_.base(), fd_.get(), EV_WRITE | EV_PERSIST,
                            &StreamConnection::on_write, this));
  return read_ev_ && write_ev_ && event_add(read_ev_.get(), nullptr) == 0;
}

bool StreamConnection::start() {
  if (!start_reading()) return false;
  if (stage_ == Stage::ProxyHeader && !from_trusted_proxy()) {
    close(peer_.ip().to_string() +
              " is not a trusted proxy: it may not send PROXY headers (proxy-trusted-ip)",
          true);
    return true;
  }
  if (stage_ == Stage::Tls && !begin_tls()) return false;
  if (stage_ == Stage::Frames || stage_ == Stage::Tls) register_client();
  return true;
}

bool StreamConnection::start_moved(const relay::Now& now) {
  if (!start_reading()) return false;
  register_client();
  if (out_end_ > out_start_ || (tls_ && tls_->outbound_pending())) arm_write(true);
  // What arrived before the move (the ConnectionBind, first), then what TLS still holds.
  if (!deliver_frames(now)) return true;
  if (tls_) advance(now);
  return true;
}

void StreamConnection::detach_to_peer(TcpPeerConnection* p) {
  detach_ = Detach::ToPeer;
  detach_peer_ = p;
}

bool StreamConnection::detach_to_worker(Worker& w) {
  if (moved_in_ || closing()) return false;
  detach_ = Detach::ToWorker;
  detach_worker_ = &w;
  return true;
}

void StreamConnection::hand_off(size_t frame, size_t size) {
  event_del(read_ev_.get());
  event_del(write_ev_.get());
  StreamHandoff h;
  h.spec = spec_;
  h.fd = std::move(fd_);
  h.peer = peer_;
  h.slot = std::move(slot_);
  h.tls = std::move(tls_);
  // Moving: the ConnectionBind is handled again over there. Bound: what follows it is data.
  const size_t from = detach_ == Detach::ToWorker ? frame : frame + size;
  h.unread.assign(in_.get() + from, in_.get() + in_len_);
  in_len_ = 0;
  if (out_) h.unsent.assign(out_.get() + out_start_, out_.get() + out_end_);
  out_start_ = out_end_ = 0;
  if (detach_ == Detach::ToPeer) {
    detach_peer_->bind(std::move(h));
    close("bound to a peer connection (RFC 6062 ConnectionBind)");
    return;
  }
  Worker& target = *detach_worker_;
  // std::function needs a copyable job: the hand-off rides in a shared_ptr. If the job never
  // runs (the target stops first), the socket closes with it.
  auto moving = std::make_shared<StreamHandoff>(std::move(h));
  target.post([moving](Worker& w) { w.adopt(std::move(*moving)); });
  close("moved to worker " + std::to_string(target.index()) + ", which owns its CONNECTION-ID");
}

void StreamConnection::register_client() {
  tuple_ =
      relay::FiveTuple{peer_, spec_.address, tls_ ? relay::Transport::Tls : relay::Transport::Tcp};
  // The relay hands this pointer back to Worker::send_to_client as a ClientTransport*.
  ref_ = relay::ClientRef{static_cast<ClientTransport*>(this), peer_};
  registered_ = true;
}

bool StreamConnection::begin_tls() {
  const TlsContextsPtr& ctx = worker_.tls();
  if (!ctx) {
    close("no TLS certificate is loaded", true);
    return false;
  }
  std::string error;
  tls_ = TlsStream::accept(ctx->tls.get(), &error);
  if (!tls_) {
    close(error, true);
    return false;
  }
  stage_ = Stage::Tls;
  return true;
}

// ---- reading ---------------------------------------------------------------------------------

void StreamConnection::on_read(evutil_socket_t, short, void* arg) {
  static_cast<StreamConnection*>(arg)->readable();
}

void StreamConnection::readable() {
  const relay::Now t = now();
  // A bounded number of reads per wake-up, so one busy client cannot starve the others.
  for (int round = 0; round < 8 && !closing(); ++round) {
    uint8_t* dst;
    size_t cap;
    if (tls_) {
      core::MutableBytes space = tls_->inbound_space();
      if (space.empty()) {
        if (tls_wants_write_) {
          // TLS stopped consuming until its outbound records drain; writable() resumes.
          pause_reading(true);
          return;
        }
        // The buffer holds a whole record at most, which OpenSSL always takes: not TLS.
        close("TLS input that OpenSSL does not consume", true);
        return;
      }
      dst = space.data();
      cap = space.size();
    } else {
      if (in_len_ == kMaxFrame) {
        close("a message longer than " + std::to_string(kMaxFrame) + " bytes", true);
        return;
      }
      dst = in_.get() + in_len_;
      cap = kMaxFrame - in_len_;
    }
    const ssize_t n = ::recv(fd_.get(), dst, cap, 0);
    if (n == 0) {
      close("closed by the client");
      return;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      close(std::string("receive failed: ") + std::strerror(errno));
      return;
    }
    if (tls_) {
      tls_->inbound_commit(size_t(n));
    } else {
      in_len_ += size_t(n);
    }
    if (!advance(t)) return;
    if (size_t(n) < cap) return;  // the socket is drained
  }
}

bool StreamConnection::advance(const relay::Now& now) {
  for (;;) {
    switch (stage_) {
      case Stage::ProxyHeader: {
        const Stage before = stage_;
        if (!read_proxy_header()) return false;
        if (stage_ == before) return true;  // wait for the rest of the header
        continue;
      }
      case Stage::Classify: {
        const Stage before = stage_;
        if (!route_mux()) return false;
        if (stage_ == before) return true;
        continue;
      }
      case Stage::Tls:
        return pump_tls(now);
      case Stage::Frames:
        return deliver_frames(now);
    }
  }
}

bool StreamConnection::from_trusted_proxy() const {
  for (const auto& r : worker_.stream_settings().proxy_trusted) {
    if (r.contains(peer_.ip())) return true;
  }
  return false;
}

bool StreamConnection::read_proxy_header() {
  core::ProxyHeader h;
  switch (core::parse_proxy_header(core::Bytes(in_.get(), in_len_), &h)) {
    case core::ProxyStatus::NeedMore:
      if (in_len_ >= core::kMaxProxyHeader) {
        close("no PROXY protocol header (this port expects one from a proxy)", true);
        return false;
      }
      return true;
    case core::ProxyStatus::Invalid:
      close("no valid PROXY protocol header (this port expects one from a proxy)", true);
      return false;
    case core::ProxyStatus::Ok:
      break;
  }
  // LOCAL (a proxy's health check) and unknown families keep the socket's own address.
  if (h.source) peer_ = *h.source;
  // The per-address limit counts the real client, not the proxy.
  auto slot = worker_.limits().acquire(peer_.ip());
  if (!slot) {
    close("max-connections-per-ip (" + std::to_string(worker_.limits().per_address()) +
              ") reached for " + peer_.ip().to_string(),
          true);
    return false;
  }
  slot_ = std::move(*slot);
  std::memmove(in_.get(), in_.get() + h.size, in_len_ - h.size);
  in_len_ -= h.size;
  if (spec_.kind == StreamKind::Tls) {
    if (!begin_tls()) return false;
    if (!tls_->inbound_copy(core::Bytes(in_.get(), in_len_))) {
      close("too much data after the PROXY header", true);
      return false;
    }
    in_len_ = 0;
  } else if (spec_.kind == StreamKind::Mux) {
    stage_ = Stage::Classify;
    return true;
  } else {
    stage_ = Stage::Frames;
  }
  register_client();
  return true;
}

bool StreamConnection::route_mux() {
  const core::Bytes first(in_.get(), in_len_);
  core::ClientHelloInfo hello;
  switch (core::parse_client_hello(first, &hello)) {
    case core::HelloStatus::NeedMore:
      if (in_len_ >= kMaxFrame) {
        close("a TLS ClientHello larger than " + std::to_string(kMaxFrame) + " bytes", true);
        return false;
      }
      return true;
    case core::HelloStatus::Invalid:
      close("a malformed TLS ClientHello", true);
      return false;
    case core::HelloStatus::NotTls:
      switch (classify_plain(first)) {
        case PlainStart::NeedMore:
          return true;
        case PlainStart::Other:
          close("neither TLS nor STUN", true);
          return false;
        case PlainStart::Stun:
          stage_ = Stage::Frames;  // TURN over plain TCP on the shared port
          register_client();
          return true;
      }
      return false;
    case core::HelloStatus::Ok:
      break;
  }
  if (mux_route(hello, worker_.stream_settings().mux) == MuxRoute::Web) {
    hand_off_to_web();
    return false;
  }
  if (!begin_tls()) return false;
  if (!tls_->inbound_copy(first)) {
    close("a TLS ClientHello larger than the TLS buffer", true);
    return false;
  }
  in_len_ = 0;
  register_client();
  return true;
}

void StreamConnection::hand_off_to_web() {
  // The web proxy takes the socket, the bytes read so far (the ClientHello, forwarded byte for
  // byte) and this connection's place in the per-address count.
  event_del(read_ev_.get());
  event_del(write_ev_.get());
  auto proxy =
      std::make_unique<WebProxy>(worker_, std::move(fd_), peer_, spec_.address, std::move(slot_));
  WebProxy& p = worker_.connections().add(std::move(proxy));
  if (!p.start(core::Bytes(in_.get(), in_len_))) worker_.connections().close(p);
  in_len_ = 0;
  close("handed to the web backend");
}

bool StreamConnection::pump_tls(const relay::Now& now) {
  for (;;) {
    size_t n = 0;
    const TlsStream::Io io = tls_->read(in_.get() + in_len_, kMaxFrame - in_len_, &n);
    if (io == TlsStream::Io::Ok) {
      in_len_ += n;
      if (!deliver_frames(now)) return false;
      if (in_len_ == kMaxFrame) {
        close("a message longer than " + std::to_string(kMaxFrame) + " bytes", true);
        return false;
      }
      continue;
    }
    if (io == TlsStream::Io::WantRead) break;
    if (io == TlsStream::Io::WantWrite) {
      tls_wants_write_ = true;
      break;
    }
    if (io == TlsStream::Io::Closed) {
      flush();
      close("closed by the client (TLS close_notify)");
      return false;
    }
    // A failed handshake (wrong version, no shared cipher, a renegotiation attempt ...) is what
    // an admin needs to see when TURNS "does not work", so it is a notice.
    const bool handshake = !tls_->handshake_done();
    flush();  // the alert OpenSSL queued, if the socket takes it
    close(std::string(handshake ? "TLS handshake failed: " : "TLS error: ") + tls_->error(), true);
    return false;
  }
  if (!handshake_logged_ && tls_->handshake_done()) {
    handshake_logged_ = true;
    log(LogLevel::Info, stream_kind_name(spec_.kind), " connection from ", peer_.to_string(), ": ",
        tls_->describe());
  }
  return flush();
}

bool StreamConnection::deliver_frames(const relay::Now& now) {
  size_t pos = 0;
  while (!closing()) {
    const core::Bytes rest(in_.get() + pos, in_len_ - pos);
    const auto f = core::next_frame(rest);
    if (!f) break;
    if (f->kind == core::FrameKind::Invalid) {
      char b[8];
      std::snprintf(b, sizeof b, "0x%02x", rest[0]);
      close(std::string("a message starting with ") + b + ", neither STUN nor ChannelData", true);
      return false;
    }
    // RFC 8489 §5: a STUN length is a multiple of 4; anything else means the stream is not
    // STUN (or has lost its framing), and nothing after it can be trusted.
    if (f->kind == core::FrameKind::Stun && (core::load_be16(rest.data() + 2) & 3) != 0) {
      close("a STUN length that is not a multiple of 4", true);
      return false;
    }
    if (f->size > kMaxFrame) {
      close("a message of " + std::to_string(f->size) + " bytes (at most " +
                std::to_string(kMaxFrame) + ")",
            true);
      return false;
    }
    if (rest.size() < f->size) break;
    if (f->kind == core::FrameKind::Stun &&
        core::load_be32(rest.data() + 4) != core::kMagicCookie) {
      close("a STUN message without the magic cookie", true);
      return false;
    }
    worker_.server().on_client_packet(ref_, tuple_, rest.subspan(0, f->size), now);
    if (detach_ != Detach::None) {
      // RFC 6062 §5.4: nothing after the ConnectionBind is STUN here any more.
      hand_off(pos, f->size);
      return false;
    }
    pos += f->size;
  }
  if (closing()) return false;
  if (pos) {
    std::memmove(in_.get(), in_.get() + pos, in_len_ - pos);
    in_len_ -= pos;
  }
  return true;
}

// ---- writing ---------------------------------------------------------------------------------

void StreamConnection::send(const core::SocketAddress&, core::Bytes data) {
  if (closing()) return;
  if (tls_) {
    if (!tls_->handshake_done()) return;  // nothing to answer before the handshake
    if (!tls_->has_room_for(data.size())) {
      worker_.count_send_drop();  // a slow client: drop (see the header comment)
      ++dropped_;
      return;
    }
    if (!tls_->write(data)) {
      close(tls_->error(), true);
      return;
    }
    flush();
    return;
  }
  if (!queue_plain(data)) {
    worker_.count_send_drop();  // a slow client: drop (see the header comment)
    ++dropped_;
  }
}

bool StreamConnection::queue_plain(core::Bytes data) {
  if (out_end_ == out_start_) {
    // Nothing waits: write straight away; only what the kernel does not take is kept.
    const ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n == ssize_t(data.size())) return true;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      close(std::string("send failed: ") + std::strerror(errno));
      return true;
    }
    data = data.subspan(n > 0 ? size_t(n) : 0);
    if (!out_) out_.reset(new uint8_t[kOutboundSize]);
    out_start_ = out_end_ = 0;
    // The rest of a partly sent message must follow, or the framing breaks; it always fits
    // (messages are smaller than kOutboundSize).
    std::memcpy(out_.get(), data.data(), data.size());
    out_end_ = data.size();
    arm_write(true);
    return true;
  }
  if (kOutboundSize - (out_end_ - out_start_) < data.size()) return false;  // drop the message
  if (kOutboundSize - out_end_ < data.size()) {
    std::memmove(out_.get(), out_.get() + out_start_, out_end_ - out_start_);
    out_end_ -= out_start_;
    out_start_ = 0;
  }
  std::memcpy(out_.get() + out_end_, data.data(), data.size());
  out_end_ += data.size();
  return true;
}

bool StreamConnection::flush() {
  for (;;) {
    core::Bytes pending =
        tls_ ? tls_->outbound() : core::Bytes(out_.get() + out_start_, out_end_ - out_start_);
    if (pending.empty()) break;
    const ssize_t n =
        ::send(fd_.get(), pending.data(), pending.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        arm_write(true);
        return true;
      }
      close(std::string("send failed: ") + std::strerror(errno));
      return false;
    }
    if (tls_) {
      tls_->outbound_consume(size_t(n));
    } else {
      out_start_ += size_t(n);
      if (out_start_ == out_end_) out_start_ = out_end_ = 0;
    }
    if (size_t(n) < pending.size()) {
      arm_write(true);
      return true;
    }
  }
  arm_write(false);
  return true;
}

void StreamConnection::on_write(evutil_socket_t, short, void* arg) {
  static_cast<StreamConnection*>(arg)->writable();
}

void StreamConnection::writable() {
  if (closing() || !flush() || write_armed_) return;
  // Everything is out: TLS may go on where it stopped for room.
  if (tls_wants_write_ || reading_paused_) {
    tls_wants_write_ = false;
    pause_reading(false);
    if (advance(now())) readable();
  }
}

void StreamConnection::arm_write(bool on) {
  if (on == write_armed_ || closing()) return;
  write_armed_ = on;
  if (on) {
    event_add(write_ev_.get(), nullptr);
  } else {
    event_del(write_ev_.get());
  }
}

void StreamConnection::pause_reading(bool on) {
  if (on == reading_paused_ || closing()) return;
  reading_paused_ = on;
  if (on) {
    event_del(read_ev_.get());
  } else {
    event_add(read_ev_.get(), nullptr);
  }
}

// ---- lifetime --------------------------------------------------------------------------------

void StreamConnection::close(const std::string& why, bool notice) {
  if (closing()) return;
  if (read_ev_) event_del(read_ev_.get());
  if (write_ev_) event_del(write_ev_.get());
  close_reason_ = why;
  if (tls_) send_close_notify(*tls_, fd_.get());
  if (notice && worker_.log_budget().take(now().mono_ms)) {
    log(LogLevel::Notice, "closing ", stream_kind_name(spec_.kind), " connection from ",
        peer_.to_string(), " on ", spec_.address.to_string(), ": ", why);
  }
  worker_.connections().close(*this);
}

void StreamConnection::tick(const relay::Now& now) {
  // A client that holds a connection without an allocation (never allocating, stalling half
  // way through a message, or staying after its allocation ended) is closed after
  // max-allocate-timeout (attack list item 28; coturn's 60 s).
  if (registered_ && worker_.server().find(tuple_)) {
    idle_since_ms_ = now.mono_ms;
    return;
  }
  const int64_t limit_ms = int64_t(worker_.stream_settings().idle_timeout_s) * 1000;
  if (limit_ms && now.mono_ms - idle_since_ms_ >= limit_ms) {
    close("no allocation for " + std::to_string(worker_.stream_settings().idle_timeout_s) +
              " s (max-allocate-timeout)",
          true);
  }
}

void StreamConnection::finish(const relay::Now& now) {
  // RFC 8656 §3.1: an allocation over TCP or TLS lives as long as its connection.
  if (registered_) worker_.server().on_client_closed(tuple_, now);
  if (dropped_) {
    // Once per connection: the client could not keep up (a slow or congested TCP path).
    log(LogLevel::Notice, stream_kind_name(spec_.kind), " connection from ", peer_.to_string(),
        " closed (", close_reason_, "); ", dropped_,
        " messages to it were dropped because it read too slowly");
  } else {
    log(LogLevel::Info, stream_kind_name(spec_.kind), " connection from ", peer_.to_string(),
        " closed: ", close_reason_);
  }
}

}  // namespace turnpike::net
