#include "net/tcp_data_pair.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace turnpike::net {
namespace {

// Reads per wake-up and side, so that one busy pair cannot starve the worker.
constexpr int kRounds = 4;
// Plaintext per TLS record written towards the client.
constexpr size_t kTlsChunk = 16384;

}  // namespace

TcpDataPair::TcpDataPair(event_base* base, Owner& owner, UniqueFd peer, ByteBuffer to_client,
                         StreamHandoff client)
    : owner_(owner),
      base_(base),
      tls_(std::move(client.tls)),
      prefix_(std::move(client.unsent)),
      to_peer_(kBuffer),
      to_client_(to_client.capacity() ? std::move(to_client) : ByteBuffer(kBuffer)) {
  peer_.fd = std::move(peer);
  client_.fd = std::move(client.fd);
  // What the client sent right after its ConnectionBind goes to the peer first. It fits: it is
  // less than one STUN frame (StreamConnection::kMaxFrame < kBuffer).
  to_peer_.append(core::Bytes(client.unread.data(), client.unread.size()));
}

// Events are freed before their sockets close (members). A pair torn down without end() (the
// worker stopping) still ends TLS politely; after end() this does nothing.
TcpDataPair::~TcpDataPair() {
  if (tls_) send_close_notify(*tls_, client_.fd.get());
}

bool TcpDataPair::start(int64_t now_ms) {
  now_ms_ = now_ms;
  peer_.read_ev.reset(
      event_new(base_, peer_.fd.get(), EV_READ | EV_PERSIST, &TcpDataPair::on_peer_read, this));
  peer_.write_ev.reset(
      event_new(base_, peer_.fd.get(), EV_WRITE | EV_PERSIST, &TcpDataPair::on_peer_write, this));
  client_.read_ev.reset(
      event_new(base_, client_.fd.get(), EV_READ | EV_PERSIST, &TcpDataPair::on_client_read, this));
  client_.write_ev.reset(event_new(base_, client_.fd.get(), EV_WRITE | EV_PERSIST,
                                   &TcpDataPair::on_client_write, this));
  if (!peer_.read_ev || !peer_.write_ev || !client_.read_ev || !client_.write_ev) {
    end("out of memory");
    return false;
  }
  // Bytes held since before the bind count now, as they are relayed.
  total_to_peer_ = to_peer_.size();
  total_to_client_ = to_client_.size();
  if (!to_peer_.empty() || !to_client_.empty()) owner_.relayed(to_peer_.size(), to_client_.size());
  set_reading(peer_, true);
  set_reading(client_, true);
  if (!flush_to_client() || !flush_to_peer()) return false;
  // The TLS session may hold records that arrived with the ConnectionBind: no socket event
  // would announce them.
  if (tls_) event_active(client_.read_ev.get(), EV_READ, 0);
  after_io();
  return !done_;
}

void TcpDataPair::stop() {
  done_ = true;
  for (Side* s : {&peer_, &client_}) {
    set_reading(*s, false);
    set_writing(*s, false);
  }
}

void TcpDataPair::tick(int64_t now_ms) {
  now_ms_ = now_ms;
  if (!done_ && draining_ && now_ms >= drain_deadline_ms_)
    end(drain_reason_ + " (the other side did not take what was left)");
}

// ---- events ----------------------------------------------------------------------------------

void TcpDataPair::on_peer_read(evutil_socket_t, short, void* arg) {
  static_cast<TcpDataPair*>(arg)->peer_readable();
}
void TcpDataPair::on_client_read(evutil_socket_t, short, void* arg) {
  static_cast<TcpDataPair*>(arg)->client_readable();
}
void TcpDataPair::on_peer_write(evutil_socket_t, short, void* arg) {
  auto* p = static_cast<TcpDataPair*>(arg);
  if (!p->done_ && p->flush_to_peer()) p->after_io();
}
void TcpDataPair::on_client_write(evutil_socket_t, short, void* arg) {
  auto* p = static_cast<TcpDataPair*>(arg);
  if (p->done_ || !p->flush_to_client()) return;
  if (p->tls_wants_write_ && p->tls_->outbound_pending() == 0) {
    // TLS stopped reading for room to write; it has room now.
    p->tls_wants_write_ = false;
    if (!p->pump_tls_in() || !p->flush_to_peer()) return;
  }
  p->after_io();
}

// ---- peer -> client --------------------------------------------------------------------------

void TcpDataPair::peer_readable() {
  if (done_) return;
  for (int round = 0; round < kRounds; ++round) {
    core::MutableBytes space = to_client_.space();
    if (space.empty()) {
      set_reading(peer_, false);  // resumed by after_io() once the client took half
      break;
    }
    const ssize_t n = recv_some(peer_, "peer", space);
    if (n < 0) return;
    if (n == 0) break;
    to_client_.commit(size_t(n));
    total_to_client_ += size_t(n);
    owner_.relayed(0, size_t(n));
    if (size_t(n) < space.size()) break;  // the socket is drained
  }
  if (flush_to_client()) after_io();
}

bool TcpDataPair::flush_to_client() {
  if (done_) return false;
  if (!tls_) {
    for (;;) {
      const bool prefix = prefix_sent_ < prefix_.size();
      const core::Bytes d =
          prefix ? core::Bytes(prefix_.data() + prefix_sent_, prefix_.size() - prefix_sent_)
                 : to_client_.data();
      if (d.empty()) break;
      const Sent r = send_some(client_, "client", d);
      if (r.failed) return false;
      if (prefix) {
        prefix_sent_ += r.n;
      } else {
        to_client_.consume(r.n);
      }
      if (r.blocked) return true;
    }
    set_writing(client_, false);
    return true;
  }
  for (;;) {
    // Encrypt what the TLS output buffer has room for, whole records only ...
    while (!to_client_.empty()) {
      const core::Bytes d = to_client_.data();
      const size_t chunk = std::min(d.size(), kTlsChunk);
      if (!tls_->has_room_for(chunk)) break;
      if (!tls_->write(d.subspan(0, chunk))) {
        end("client: " + tls_->error());
        return false;
      }
      to_client_.consume(chunk);
    }
    // ... and send the ciphertext.
    const core::Bytes c = tls_->outbound();
    if (c.empty()) break;
    const Sent r = send_some(client_, "client", c);
    if (r.failed) return false;
    tls_->outbound_consume(r.n);
    if (r.blocked) return true;
  }
  set_writing(client_, false);
  return true;
}

// ---- client -> peer --------------------------------------------------------------------------

void TcpDataPair::client_readable() {
  if (done_) return;
  if (tls_) {
    // Ciphertext into the TLS session, as far as it takes it (one record's worth at least) ...
    for (int round = 0; round < kRounds && !client_.eof; ++round) {
      core::MutableBytes space = tls_->inbound_space();
      if (space.empty()) break;
      const ssize_t n = recv_some(client_, "client", space);
      if (n < 0) return;
      if (n == 0) break;
      tls_->inbound_commit(size_t(n));
      if (size_t(n) < space.size()) break;
    }
    // ... and plaintext out of it, as far as there is room towards the peer.
    if (!pump_tls_in()) return;
  } else {
    for (int round = 0; round < kRounds; ++round) {
      core::MutableBytes space = to_peer_.space();
      if (space.empty()) {
        set_reading(client_, false);  // resumed by after_io() once the peer took half
        break;
      }
      const ssize_t n = recv_some(client_, "client", space);
      if (n < 0) return;
      if (n == 0) break;
      to_peer_.commit(size_t(n));
      total_to_peer_ += size_t(n);
      owner_.relayed(size_t(n), 0);
      if (size_t(n) < space.size()) break;
    }
  }
  if (client_.eof) set_reading(client_, false);  // also after a TLS close_notify
  if (flush_to_peer()) after_io();
}

bool TcpDataPair::pump_tls_in() {
  for (;;) {
    core::MutableBytes space = to_peer_.space();
    if (space.empty()) {
      set_reading(client_, false);  // after_io() resumes it, and this, once the peer took half
      return true;
    }
    size_t n = 0;
    switch (tls_->read(space.data(), space.size(), &n)) {
      case TlsStream::Io::Ok:
        to_peer_.commit(n);
        total_to_peer_ += n;
        owner_.relayed(n, 0);
        continue;
      case TlsStream::Io::WantRead:
        return true;
      case TlsStream::Io::WantWrite:
        // Its output is full (a KeyUpdate answer, say): go on once the client took it.
        tls_wants_write_ = true;
        set_reading(client_, false);
        return flush_to_client();
      case TlsStream::Io::Closed:
        client_.eof = true;  // close_notify
        return true;
      case TlsStream::Io::Error:
        end("client: TLS error: " + tls_->error());
        return false;
    }
  }
}

bool TcpDataPair::flush_to_peer() {
  if (done_) return false;
  while (!to_peer_.empty()) {
    const Sent r = send_some(peer_, "peer", to_peer_.data());
    if (r.failed) return false;
    to_peer_.consume(r.n);
    if (r.blocked) return true;
  }
  set_writing(peer_, false);
  return true;
}

// ---- the sockets ------------------------------------------------------------------------------

ssize_t TcpDataPair::recv_some(Side& s, const char* who, core::MutableBytes space) {
  for (;;) {
    const ssize_t n = ::recv(s.fd.get(), space.data(), space.size(), 0);
    if (n > 0) return n;
    if (n == 0) {
      s.eof = true;
      set_reading(s, false);
      return 0;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    end(std::string(who) + ": " + std::strerror(errno));
    return -1;
  }
}

TcpDataPair::Sent TcpDataPair::send_some(Side& s, const char* who, core::Bytes d) {
  for (;;) {
    const ssize_t n = ::send(s.fd.get(), d.data(), d.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) {
      const bool blocked = size_t(n) < d.size();
      if (blocked) set_writing(s, true);
      return {size_t(n), blocked, false};
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      set_writing(s, true);
      return {0, true, false};
    }
    end(std::string(who) + ": " + std::strerror(errno));
    return {0, false, true};
  }
}

// ---- flow control and the end ----------------------------------------------------------------

bool TcpDataPair::client_output_empty() const {
  return prefix_sent_ == prefix_.size() && to_client_.empty() &&
         (!tls_ || tls_->outbound_pending() == 0);
}

void TcpDataPair::after_io() {
  if (done_) return;
  // RFC 6062: when one side of the pair closes, the other is closed too, once it got what was
  // buffered for it.
  if (peer_.eof || client_.eof) {
    if (!draining_) {
      draining_ = true;
      drain_reason_ = peer_.eof ? "closed by the peer" : "closed by the client";
      drain_deadline_ms_ = now_ms_ + kDrainMs;
      set_reading(peer_, false);
      set_reading(client_, false);
    }
    const bool delivered = peer_.eof ? client_output_empty() : to_peer_.empty();
    if (delivered) end(drain_reason_);
    return;
  }
  // Back-pressure released: read again from a side that was paused for want of room.
  if (!peer_.reading && to_client_.size() <= kBuffer / 2) set_reading(peer_, true);
  if (!client_.reading && !tls_wants_write_ && to_peer_.size() <= kBuffer / 2) {
    set_reading(client_, true);
    // Plaintext may wait inside the TLS session already, without the socket being readable.
    if (tls_) event_active(client_.read_ev.get(), EV_READ, 0);
  }
}

void TcpDataPair::set_reading(Side& s, bool on) {
  if (on == s.reading || !s.read_ev) return;
  s.reading = on;
  if (on) {
    event_add(s.read_ev.get(), nullptr);
  } else {
    event_del(s.read_ev.get());
  }
}

void TcpDataPair::set_writing(Side& s, bool on) {
  if (on == s.writing || !s.write_ev) return;
  s.writing = on;
  if (on) {
    event_add(s.write_ev.get(), nullptr);
  } else {
    event_del(s.write_ev.get());
  }
}

void TcpDataPair::end(const std::string& why) {
  if (done_) return;
  stop();
  if (tls_) send_close_notify(*tls_, client_.fd.get());
  owner_.ended(why);
}

}  // namespace turnpike::net
