#include "net/stream_connection.h"

#include <cstdint>
#include <cstdio>
#include <utility>

#include "core/stream_framing.h"
#include "core/stun_types.h"
#include "net/clock.h"
#include "net/log.h"
#include "net/tcp_peer_connection.h"
#include "net/worker.h"

namespace turnpike::net {

Stream::Limits StreamConnection::limits() {
  Stream::Limits l;
  l.in = kMaxFrame;
  l.out = kOutboundSize;
  return l;  // small buffers on first use (ByteBuffer::kInitial), TlsStream's default sizes
}

StreamConnection::StreamConnection(Worker& w, const StreamListenerSpec& spec,
                                   std::unique_ptr<Stream> stream, const core::SocketAddress& peer,
                                   std::optional<ConnectionLimits::Slot> slot, int64_t now_ms)
    : worker_(w),
      spec_(spec),
      stream_(std::move(stream)),
      peer_(peer),
      slot_(std::move(slot)),
      idle_since_ms_(now_ms) {}

StreamConnection::StreamConnection(Worker& w, MovingClient moved, int64_t now_ms)
    : StreamConnection(w, moved.spec, std::move(moved.stream), moved.peer, std::move(moved.slot),
                       now_ms) {
  moved_in_ = true;
  handshake_logged_ = true;  // on the worker it came from
}

StreamConnection::~StreamConnection() = default;

bool StreamConnection::start(const relay::Now& now) {
  if (stream_->attached()) {
    stream_->set_handler(*this);
  } else if (!stream_->attach(worker_.stream_loop(), *this)) {
    return false;
  }
  if (spec_.kind == StreamKind::Tls && !stream_->is_tls()) {
    const TlsContextsPtr& ctx = worker_.tls();
    if (!ctx) {
      close("no TLS certificate is loaded", true);
      return true;
    }
    stream_->start_tls(ctx->tls.get());
  }
  tuple_ = relay::FiveTuple{peer_, spec_.address,
                            stream_->is_tls() ? relay::Transport::Tls : relay::Transport::Tcp};
  // The relay hands this pointer back to Worker::send_to_client as a ClientTransport*.
  ref_ = relay::ClientRef{static_cast<ClientTransport*>(this), peer_};
  // What is there already: plain STUN that the shared port read to route it, or the
  // ConnectionBind of a connection that moved here.
  if (!stream_->input().empty()) deliver_frames(now);
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

void StreamConnection::hand_off(size_t size) {
  if (detach_ == Detach::ToPeer) {
    // Bound: what follows the ConnectionBind is data. The stream (with the response still
    // queued in it) becomes the client side of the peer connection's splice.
    stream_->consume(size);
    if (detach_peer_->bind(stream_, peer_, slot_)) {
      close("bound to a peer connection (RFC 6062 ConnectionBind)");
    } else {
      close("its peer connection ended before the ConnectionBind");
    }
    return;
  }
  // Moving: the ConnectionBind is handled again over there. The stream stops here now and
  // leaves in finish(), outside its own callbacks.
  moving_ = true;
  close("moved to worker " + std::to_string(detach_worker_->index()) +
        ", which owns its CONNECTION-ID");
}

// ---- reading ---------------------------------------------------------------------------------

void StreamConnection::stream_readable(Stream& s) {
  if (closing()) return;
  if (!handshake_logged_ && s.handshake_done()) {
    handshake_logged_ = true;
    log(LogLevel::Info, stream_kind_name(spec_.kind), " connection from ", peer_.to_string(), ": ",
        s.tls()->describe());
  }
  if (!deliver_frames(now())) return;
  if (s.read_ended()) {
    close(s.close_notify_received() ? "closed by the client (TLS close_notify)"
                                    : "closed by the client");
  }
}

void StreamConnection::stream_failed(Stream& s, const std::string& why) {
  close(why, s.tls_failed());
}

bool StreamConnection::deliver_frames(const relay::Now& now) {
  while (!closing()) {
    const core::Bytes rest = stream_->input();
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
      hand_off(f->size);
      return false;
    }
    if (closing()) return false;
    stream_->consume(f->size);
  }
  if (closing()) return false;
  if (stream_->input_full()) {
    close("a message longer than " + std::to_string(kMaxFrame) + " bytes", true);
    return false;
  }
  return true;
}

// ---- writing ---------------------------------------------------------------------------------

void StreamConnection::send(const core::SocketAddress&, core::Bytes data) {
  if (closing()) return;
  if (stream_->is_tls() && !stream_->handshake_done()) return;  // nothing to answer before it
  if (!stream_->write_whole(data)) {
    worker_.count_send_drop();  // a slow client: drop (see the header comment)
    ++dropped_;
  }
}

// ---- lifetime --------------------------------------------------------------------------------

void StreamConnection::close(const std::string& why, bool notice) {
  if (closing()) return;
  close_reason_ = why;
  if (stream_) {
    if (moving_) {
      stream_->hold();  // it goes on elsewhere
    } else {
      stream_->close_now();  // what is queued, and a close_notify, if the socket takes them
    }
  }
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
  if (worker_.server().find(tuple_)) {
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
  if (moving_) {
    log(LogLevel::Info, stream_kind_name(spec_.kind), " connection from ", peer_.to_string(), " ",
        close_reason_);
    // Out of this worker's loop (we are outside the stream's callbacks here), then to the
    // other worker: the stream object itself, by value in a move-only job. If the job never
    // runs (that worker stops first), the socket closes with it.
    stream_->detach();
    MovingClient m{spec_, std::move(stream_), peer_, std::move(slot_)};
    detach_worker_->post([m = std::move(m)](Worker& w) mutable { w.adopt(std::move(m)); });
    return;
  }
  // RFC 8656 §3.1: an allocation over TCP or TLS lives as long as its connection.
  worker_.server().on_client_closed(tuple_, now);
  std::string sent;
  if (stream_) {
    const Stream::Counters& c = stream_->counters();
    sent = "; sent " + std::to_string(c.bytes_out) + " B in " + std::to_string(c.writes) +
           " messages, " + (stream_->is_tls() ? std::to_string(c.records) + " TLS records, " : "") +
           std::to_string(c.sends) + " sends";
  }
  if (dropped_) {
    // Once per connection: the client could not keep up (a slow or congested TCP path).
    log(LogLevel::Notice, stream_kind_name(spec_.kind), " connection from ", peer_.to_string(),
        " closed (", close_reason_, "); ", dropped_,
        " messages to it were dropped because it read too slowly", sent);
  } else {
    log(LogLevel::Info, stream_kind_name(spec_.kind), " connection from ", peer_.to_string(),
        " closed: ", close_reason_, sent);
  }
}

}  // namespace turnpike::net
