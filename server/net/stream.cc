#include "net/stream.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace turnpike::net {
namespace {

// Reads per wake-up, so that one busy connection cannot starve the others of its worker.
constexpr int kReadRounds = 8;

}  // namespace

// ---- the loop's flush list --------------------------------------------------------------------

void StreamLoop::queue(Stream& s) {
  if (s.queued_at_ != SIZE_MAX) return;
  s.queued_at_ = queued_.size();
  queued_.push_back(&s);
}

void StreamLoop::forget(Stream& s) {
  if (s.queued_at_ == SIZE_MAX) return;
  queued_[s.queued_at_] = nullptr;
  s.queued_at_ = SIZE_MAX;
}

void StreamLoop::flush() {
  // A flush may queue more (a splice moves bytes when its other side drained): they are sent in
  // this same pass.
  for (size_t i = 0; i < queued_.size(); ++i) {
    Stream* s = queued_[i];
    if (!s) continue;
    queued_[i] = nullptr;
    s->queued_at_ = SIZE_MAX;
    s->flush_now(true);
  }
  queued_.clear();
}

// ---- life ------------------------------------------------------------------------------------

Stream::Stream(UniqueFd fd, const Limits& limits, bool connecting)
    : fd_(std::move(fd)),
      limits_(limits),
      in_(limits.in, limits.in_initial),
      out_(limits.out, limits.out_initial),
      connecting_(connecting) {}

Stream::~Stream() {
  // A stream torn down without close_now() (its worker stopping) still ends TLS politely.
  close_now();
}

bool Stream::attach(StreamLoop& loop, Handler& h) {
  loop_ = &loop;
  handler_ = &h;
  ++generation_;
  read_ev_.reset(event_new(loop.base(), fd_.get(), EV_READ | EV_PERSIST, &Stream::on_read, this));
  write_ev_.reset(
      event_new(loop.base(), fd_.get(), EV_WRITE | EV_PERSIST, &Stream::on_write, this));
  if (!read_ev_ || !write_ev_) return false;
  reading_armed_ = write_armed_ = false;
  if (connecting_) {
    arm_write(true);  // writable once the connect succeeded or failed
    return true;
  }
  update_interest();
  if (output_pending() || write_shut_requested_) loop_->queue(*this);
  // Ciphertext that came along may hold whole records: no socket event would announce them.
  if (tls_ || preread_.size()) kick_read();
  return true;
}

void Stream::hold() {
  if (loop_) loop_->forget(*this);
  if (read_ev_) event_del(read_ev_.get());
  if (write_ev_) event_del(write_ev_.get());
  reading_armed_ = write_armed_ = false;
  handler_ = nullptr;
  ++generation_;
}

void Stream::detach() {
  if (loop_) loop_->forget(*this);
  read_ev_.reset();
  write_ev_.reset();
  reading_armed_ = write_armed_ = false;
  loop_ = nullptr;
  handler_ = nullptr;
  ++generation_;
}

void Stream::set_handler(Handler& h) {
  handler_ = &h;
  ++generation_;
  // Records that arrived with the last read (after the message that made the hand-over) may
  // wait in the session, with the socket quiet.
  if (tls_) kick_read();
}

void Stream::start_tls(SSL_CTX* ctx) {
  SSL_CTX_up_ref(ctx);
  tls_ctx_.reset(ctx);
  // What was read before is ciphertext: the session takes it first.
  preread_ = std::move(in_);
  in_ = ByteBuffer(limits_.in, limits_.in_initial);
  if (preread_.size()) kick_read();
}

bool Stream::begin_tls_session() {
  std::string error;
  tls_ = TlsStream::accept(tls_ctx_.get(), limits_.tls, &error);
  tls_ctx_.reset();
  if (!tls_) {
    tls_failed_ = true;
    fail(error);
    return false;
  }
  return true;
}

void Stream::close_now() {
  if (closed_) return;
  closed_ = true;
  handler_ = nullptr;  // nothing is reported any more
  if (!failed_ && fd_) {
    flush_now(false);
    if (tls_) send_close_notify(*tls_, fd_.get());
  }
  hold();
}

// ---- reading ---------------------------------------------------------------------------------

void Stream::on_read(evutil_socket_t, short, void* arg) {
  static_cast<Stream*>(arg)->readable();
}

void Stream::readable() {
  const uint64_t gen = generation_;
  for (int round = 0; round < kReadRounds && reading_wanted(); ++round) {
    const Got got = pull();
    if (got == Got::Failed || gen != generation_) return;
    if (got == Got::Nothing) break;
    if (got == Got::Partial) continue;  // ciphertext of a record not complete yet
    handler_->stream_readable(*this);
    // Handed on, detached, closed or failed in the handler: this read is over.
    if (gen != generation_ || failed_ || closed_) return;
    if (got == Got::NewsDrained) break;
  }
  update_interest();
}

Stream::Got Stream::pull() {
  if (tls_ctx_ && !begin_tls_session()) return Got::Failed;
  return tls_ ? pull_tls() : pull_plain();
}

Stream::Got Stream::pull_plain() {
  core::MutableBytes space = in_.space();
  if (space.empty()) return Got::Nothing;  // full: the handler consumes first
  const ssize_t n = receive(space);
  if (n == -2) return Got::Failed;
  if (n == -1) return Got::NewsDrained;  // the end, once
  if (n == 0) return Got::Nothing;
  in_.commit(size_t(n));
  counters_.bytes_in += size_t(n);
  return size_t(n) < space.size() ? Got::NewsDrained : Got::News;
}

Stream::Got Stream::pull_tls() {
  const size_t before = in_.size();
  const bool ended_before = read_ended_;
  bool drained = false;
  bool received = false;
  if (!pump_tls()) return Got::Failed;
  if (in_.size() == before && !read_ended_ && !tls_wants_write_) {
    // Nothing the session already held: more ciphertext from the socket.
    core::MutableBytes space = tls_->inbound_space();
    if (space.empty()) {
      if (in_.full()) return Got::Nothing;  // the handler consumes first
      // OpenSSL takes whatever is there while it has room for plaintext: this is not TLS.
      tls_failed_ = true;
      fail("TLS input that OpenSSL does not consume");
      return Got::Failed;
    }
    const ssize_t n = receive(space);
    if (n == -2) return Got::Failed;
    if (n > 0) {
      tls_->inbound_commit(size_t(n));
      received = true;
      drained = size_t(n) < space.size();
      if (!pump_tls()) return Got::Failed;
    } else {
      // Nothing now, or a TCP FIN (without close_notify: a truncation, RFC 8446 §6.1).
      drained = true;
    }
  }
  // Handshake messages, alerts, a KeyUpdate answer: sent at the end of the round.
  if (tls_->outbound_pending()) loop_->queue(*this);
  bool news = in_.size() != before || read_ended_ != ended_before;
  if (!handshake_seen_ && tls_->handshake_done()) {
    handshake_seen_ = true;
    news = true;
    if (!out_.empty()) loop_->queue(*this);  // queued before the handshake finished
  }
  counters_.bytes_in += in_.size() - before;
  if (!news) return received && !drained ? Got::Partial : Got::Nothing;
  return drained ? Got::NewsDrained : Got::News;
}

bool Stream::pump_tls() {
  for (;;) {
    // Ciphertext read before TLS began (the shared port's ClientHello) goes in first.
    while (!preread_.empty()) {
      core::MutableBytes space = tls_->inbound_space();
      if (space.empty()) break;
      const core::Bytes d = preread_.data();
      const size_t n = std::min(space.size(), d.size());
      std::memcpy(space.data(), d.data(), n);
      tls_->inbound_commit(n);
      preread_.consume(n);
    }
    if (preread_.empty()) preread_.release();
    core::MutableBytes space = in_.space();
    if (space.empty()) return true;  // full: the session keeps the rest
    size_t n = 0;
    switch (tls_->read(space.data(), space.size(), &n)) {
      case TlsStream::Io::Ok:
        in_.commit(n);
        continue;
      case TlsStream::Io::WantRead:
        if (!preread_.empty() && !tls_->inbound_space().empty()) continue;
        if (!preread_.empty()) {
          tls_failed_ = true;
          fail("TLS input that OpenSSL does not consume");
          return false;
        }
        return true;
      case TlsStream::Io::WantWrite:
        // Its output is full (a handshake flight, a KeyUpdate answer): reading goes on once
        // the socket took that (flush_now()).
        tls_wants_write_ = true;
        loop_->queue(*this);
        return true;
      case TlsStream::Io::Closed:
        read_ended_ = true;  // close_notify (RFC 8446 §6.1)
        close_notify_received_ = true;
        return true;
      case TlsStream::Io::Error:
        // A failed handshake (wrong version, no shared cipher, a renegotiation attempt ...)
        // is what an admin needs to see when TURNS "does not work".
        tls_failed_ = true;
        fail(std::string(tls_->handshake_done() ? "TLS error: " : "TLS handshake failed: ") +
             tls_->error());
        return false;
    }
  }
}

ssize_t Stream::receive(core::MutableBytes space) {
  for (;;) {
    const ssize_t n = ::recv(fd_.get(), space.data(), space.size(), 0);
    if (n > 0) return n;
    if (n == 0) {
      read_ended_ = true;
      return -1;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    fail(std::string("receive failed: ") + std::strerror(errno));
    return -2;
  }
}

void Stream::consume(size_t n) {
  const bool was_full = !reading_wanted();
  in_.consume(n);
  if (was_full && reading_wanted()) {
    update_interest();
    if (tls_) kick_read();  // plaintext may wait in the session, with the socket quiet
  }
}

void Stream::pause_reading(bool on) {
  if (paused_ == on) return;
  paused_ = on;
  update_interest();
  if (!on && tls_) kick_read();
}

bool Stream::reading_wanted() const {
  if (!loop_ || failed_ || closed_ || connecting_ || paused_ || read_ended_ || tls_wants_write_)
    return false;
  if (!in_.full()) return true;
  // Plaintext full: TLS may still take ciphertext into its buffer, plain streams wait.
  return tls_ && tls_->inbound_room() > 0;
}

void Stream::update_interest() {
  if (!read_ev_) return;
  const bool want = reading_wanted();
  if (want == reading_armed_) return;
  reading_armed_ = want;
  if (want) {
    event_add(read_ev_.get(), nullptr);
  } else {
    event_del(read_ev_.get());
  }
}

void Stream::kick_read() {
  if (read_ev_ && reading_wanted()) event_active(read_ev_.get(), EV_READ, 0);
}

// ---- writing ---------------------------------------------------------------------------------

bool Stream::write_whole(core::Bytes d) {
  if (failed_ || closed_ || write_shut_requested_) return false;
  if (tls_ && tls_->handshake_done() && out_.empty()) {
    // A message is one TLS record of its own: clients may read one message per record
    // (coturn's turnutils_uclient does, and coturn writes them so). The round's records still
    // leave together, in one send().
    if (!tls_->has_room_for(d.size())) {
      wants_room_ = true;
      return false;
    }
    if (!tls_->write(d)) {
      tls_failed_ = true;
      fail(tls_->error());
      return false;
    }
    ++counters_.writes;
    ++counters_.records;
    counters_.bytes_out += d.size();
    if (loop_) loop_->queue(*this);
    return true;
  }
  if (!out_.append_whole(d)) {
    wants_room_ = true;
    return false;
  }
  ++counters_.writes;
  if (loop_) loop_->queue(*this);
  return true;
}

size_t Stream::write_some(core::Bytes d) {
  if (failed_ || closed_ || write_shut_requested_) return 0;
  const size_t n = out_.append(d);
  if (n < d.size()) wants_room_ = true;
  if (n) {
    ++counters_.writes;
    if (loop_) loop_->queue(*this);
  }
  return n;
}

size_t Stream::output_pending() const {
  return out_.size() + (tls_ ? tls_->outbound_pending() : 0);
}

void Stream::shutdown_write() {
  if (write_shut_requested_ || failed_ || closed_) return;
  write_shut_requested_ = true;
  if (loop_) loop_->queue(*this);
}

void Stream::on_write(evutil_socket_t, short, void* arg) {
  static_cast<Stream*>(arg)->writable();
}

void Stream::writable() {
  if (connecting_) {
    connected();
    return;
  }
  flush_now(true);
}

void Stream::connected() {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  connecting_ = false;
  arm_write(false);
  if (err) {
    failed_ = true;
    update_interest();
  } else {
    update_interest();
    if (output_pending() || write_shut_requested_) loop_->queue(*this);
  }
  handler_->stream_connected(*this, err);
}

bool Stream::encrypt_queued() {
  // As much of the byte queue (a splice's, or messages queued before the handshake finished)
  // as the session has room for, in records as large as fit.
  if (!tls_->handshake_done()) return true;
  while (!out_.empty()) {
    const size_t room = tls_->room();
    if (room == 0) break;
    const core::Bytes d = out_.data();
    const size_t n = std::min(room, d.size());
    if (!tls_->write(d.subspan(0, n))) {
      tls_failed_ = true;
      fail(tls_->error());
      return false;
    }
    ++counters_.records;
    counters_.bytes_out += n;
    out_.consume(n);
  }
  return true;
}

void Stream::flush_now(bool notify) {
  if (failed_ || connecting_ || !fd_) return;
  const uint64_t gen = generation_;
  for (;;) {
    if (tls_ && !encrypt_queued()) return;
    const core::Bytes pending = tls_ ? tls_->outbound() : out_.data();
    if (pending.empty()) break;
    const ssize_t n =
        ::send(fd_.get(), pending.data(), pending.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (notify) {
        fail(std::string("send failed: ") + std::strerror(errno));
      } else {
        failed_ = true;
      }
      return;
    }
    ++counters_.sends;
    if (tls_) {
      tls_->outbound_consume(size_t(n));
    } else {
      out_.consume(size_t(n));
      counters_.bytes_out += size_t(n);
    }
    if (size_t(n) < pending.size()) break;  // the kernel's buffer is full
  }
  const size_t left = output_pending();
  if (closed_ || !loop_) return;
  // Wait for the socket only with something it could take (TLS: not plaintext that waits for
  // the handshake).
  arm_write(tls_ ? tls_->outbound_pending() > 0 : left > 0);
  bool shut_now = false;
  if (left == 0 && write_shut_requested_ && !write_shut_) {
    finish_shutdown();
    shut_now = true;
  }
  if (!notify) return;
  if (tls_wants_write_ && tls_->outbound_pending() == 0) {
    // The session has room to answer again: read on where it stopped.
    tls_wants_write_ = false;
    update_interest();
    kick_read();
  }
  bool tell = shut_now;
  if (wants_room_ && left <= out_.limit() / 2) {
    wants_room_ = false;
    tell = true;
  }
  if (notify_drained_ && left == 0) {
    notify_drained_ = false;
    tell = true;
  }
  if (tell && gen == generation_ && handler_) handler_->stream_writable(*this);
}

void Stream::finish_shutdown() {
  write_shut_ = true;
  // RFC 8446 §6.1: "Each party MUST send a "close_notify" alert before closing its write side
  // of the connection".
  if (tls_) send_close_notify(*tls_, fd_.get());
  ::shutdown(fd_.get(), SHUT_WR);
}

void Stream::arm_write(bool on) {
  if (on == write_armed_ || !write_ev_) return;
  write_armed_ = on;
  if (on) {
    event_add(write_ev_.get(), nullptr);
  } else {
    event_del(write_ev_.get());
  }
}

void Stream::fail(const std::string& why) {
  if (failed_) return;
  // The alert OpenSSL queued for a failed handshake, if the socket takes it now.
  if (tls_) {
    const core::Bytes alert = tls_->outbound();
    if (!alert.empty()) {
      const ssize_t n = ::send(fd_.get(), alert.data(), alert.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      (void)n;
    }
  }
  failed_ = true;
  if (loop_) loop_->forget(*this);
  update_interest();
  arm_write(false);
  ++generation_;
  if (handler_) handler_->stream_failed(*this, why);
}

}  // namespace turnpike::net
