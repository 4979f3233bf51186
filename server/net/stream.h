// One TCP connection as every stream user of net sees it, plain or TLS: the TURN client
// connection (stream_connection.h), what comes before it (stream_preamble.h), the RFC 6062 peer
// connection and data connection, and both sides of the web pass-through (splice.h).
//
// It owns the socket, its read and write events, one ByteBuffer each way and, for TLS, the
// TlsStream (a BIO pair: ciphertext is received straight into its inbound buffer and sent
// straight from its outbound one). What the user sees is plaintext either way:
//
//   reading   input() holds what arrived and was not yet consume()d, at most Limits::in bytes;
//             when that is full the stream stops reading (TCP flow control then holds the
//             sender back), and reads again once the handler consumed some. read_ended(): the
//             other side shut its write side (a FIN, or a TLS close_notify).
//   writing   write_whole() (a media message: all or nothing) and write_some() (a splice: as
//             much as fits) queue up to Limits::out bytes (TLS: a message becomes one record in
//             the session's outbound buffer at once, Limits::tls.outbound bytes at most; a
//             splice's bytes are queued as plaintext and become records as large as fit).
//             Nothing is sent at once: the loop's flush() at the end of the round sends what the
//             round queued, in one send(). shutdown_write() sends a FIN (TLS: a close_notify
//             first) once everything queued has left.
//
// Every syscall retries EINTR; EAGAIN waits for the socket's event. A bounded number of reads per
// wake-up keeps one busy connection from starving the others. Errors end the stream once
// (Handler::stream_failed); the owner closes it, and the socket closes with the object.
//
// A stream moves: between owners on one worker (set_handler(): an RFC 6062 data connection
// leaving its StreamConnection for the splice), and between workers (detach() on the first,
// attach() on the second: the object moves with its socket, TLS session and both buffers, and
// nothing is copied).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/bytes.h"
#include "net/byte_buffer.h"
#include "net/libevent_ptr.h"
#include "net/openssl_ptr.h"
#include "net/stream_loop.h"
#include "net/tls_stream.h"
#include "net/unique_fd.h"

namespace turnpike::net {

class Stream {
 public:
  struct Limits {
    size_t in = 16384;   // plaintext received and not yet consumed
    size_t out = 32768;  // plaintext queued and not yet sent (TLS: not yet encrypted)
    // What each buffer starts with on first use (it doubles as needed, up to its limit).
    size_t in_initial = ByteBuffer::kInitial;
    size_t out_initial = ByteBuffer::kInitial;
    TlsStream::Sizes tls;  // the BIO pair, when TLS is used
  };

  class Handler {
   public:
    // New input, or read_ended() became true; also once when a TLS handshake finished.
    virtual void stream_readable(Stream& s) = 0;
    // After a write found no room (write_whole() refused, write_some() short): the queue fell
    // to half its limit. After notify_when_drained(): everything queued has been sent. After
    // shutdown_write(): the FIN has been sent.
    virtual void stream_writable(Stream&) {}
    // A connecting stream's connect finished: `error` is 0 or the errno it failed with.
    virtual void stream_connected(Stream&, int /*error*/) {}
    // A socket or TLS error: nothing more comes from or goes to this stream (once).
    virtual void stream_failed(Stream& s, const std::string& why) = 0;

   protected:
    ~Handler() = default;
  };

  // A connected socket, or (connecting = true) one whose non-blocking connect() is under way.
  Stream(UniqueFd fd, const Limits& limits, bool connecting = false);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // Registers the events on `loop` and starts reading (or waiting for the connect). False when
  // libevent could not (out of memory).
  bool attach(StreamLoop& loop, Handler& h);
  // No more events or callbacks until attach() again; nothing is sent or closed (safe inside
  // the stream's own callbacks): a connection about to move to another worker.
  void hold();
  // Leaves this loop for good, its events freed: the step before attach() on another worker's
  // loop. Never from inside this stream's own callbacks (hold() there).
  void detach();
  bool attached() const { return loop_ != nullptr; }
  // A new owner on the same loop; a read under way calls the old one no more.
  void set_handler(Handler& h);

  // Server-side TLS from `ctx`: what input() holds is the start of the client's ciphertext (the
  // ClientHello the shared port read to route it). The session itself is created when the first
  // bytes are there, so a connection that never speaks costs no TLS memory.
  void start_tls(SSL_CTX* ctx);
  bool is_tls() const { return tls_ != nullptr || tls_ctx_ != nullptr; }
  const TlsStream* tls() const { return tls_.get(); }
  bool handshake_done() const { return tls_ && tls_->handshake_done(); }

  // Larger bounds each way, for a connection whose use turned out to need them (the shared
  // port's web connections).
  void raise_limits(size_t in, size_t out) {
    in_.raise_limit(in);
    out_.raise_limit(out);
  }

  // --- reading
  core::Bytes input() const { return in_.data(); }
  void consume(size_t n);
  bool input_full() const { return in_.full(); }
  size_t input_limit() const { return in_.limit(); }
  bool read_ended() const { return read_ended_; }
  void pause_reading(bool on);

  // --- writing
  bool write_whole(core::Bytes d);
  size_t write_some(core::Bytes d);
  size_t output_room() const { return write_shut_requested_ || failed_ ? 0 : out_.room(); }
  size_t output_limit() const { return out_.limit(); }
  // Queued and not yet taken by the kernel (TLS: plaintext and ciphertext).
  size_t output_pending() const;
  void notify_when_drained() { notify_drained_ = true; }
  void shutdown_write();
  bool write_shut() const { return write_shut_; }

  // Stops now: one last try to send what is queued and (TLS) a close_notify, without waiting
  // or calling the handler; then no more events (safe inside the stream's own callbacks). The
  // socket closes with the object.
  void close_now();
  bool failed() const { return failed_; }
  // The failure was TLS's (a handshake that failed, a protocol error), not the socket's.
  bool tls_failed() const { return tls_failed_; }
  // read_ended() by a TLS close_notify rather than a bare FIN.
  bool close_notify_received() const { return close_notify_received_; }

  int fd() const { return fd_.get(); }

  // For log lines and tests: what went out, and in how many writes, TLS records and sends.
  struct Counters {
    uint64_t bytes_in = 0;   // plaintext
    uint64_t bytes_out = 0;  // plaintext taken (TLS: encrypted)
    uint64_t writes = 0;     // write_whole() / write_some() calls that queued bytes
    uint64_t records = 0;    // TLS records written (SSL_write calls)
    uint64_t sends = 0;      // send() calls that sent bytes
  };
  const Counters& counters() const { return counters_; }

 private:
  friend class StreamLoop;
  // What one pull() brought: nothing (the socket is quiet, or input is full), ciphertext of an
  // unfinished record (read on), news for the handler (the socket may have more, or not), or
  // a failure (the handler was told).
  enum class Got : uint8_t { Nothing, Partial, News, NewsDrained, Failed };

  static void on_read(evutil_socket_t, short, void* arg);
  static void on_write(evutil_socket_t, short, void* arg);
  void readable();
  void writable();
  void connected();

  Got pull();
  Got pull_plain();
  Got pull_tls();
  // Receives into `space`: >0 bytes, 0 for nothing now, -1 at the end (read_ended_) and -2 when
  // it failed (the handler was told).
  ssize_t receive(core::MutableBytes space);
  bool begin_tls_session();  // creates the session start_tls() asked for
  bool pump_tls();           // plaintext out of the session into in_, as far as there is room

  // Sends what is queued. `notify`: may call the handler (not from close_now()).
  void flush_now(bool notify);
  bool encrypt_queued();
  void finish_shutdown();
  void fail(const std::string& why);
  bool reading_wanted() const;
  void update_interest();
  void arm_write(bool on);
  void kick_read();

  UniqueFd fd_;
  EventPtr read_ev_;  // destroyed before fd_ closes
  EventPtr write_ev_;
  StreamLoop* loop_ = nullptr;
  Handler* handler_ = nullptr;
  Limits limits_;
  ByteBuffer in_;
  ByteBuffer out_;
  ByteBuffer preread_;  // TLS: ciphertext read before TLS began, fed to the session first
  SslCtxPtr tls_ctx_;   // TLS requested, session not created yet
  std::unique_ptr<TlsStream> tls_;
  Counters counters_;
  uint64_t generation_ = 0;      // changes when the handler changes or the stream stops
  size_t queued_at_ = SIZE_MAX;  // index in the loop's flush list
  bool connecting_ = false;
  bool reading_armed_ = false;
  bool write_armed_ = false;
  bool paused_ = false;
  bool read_ended_ = false;
  bool tls_wants_write_ = false;  // the session stopped reading until its output drains
  bool handshake_seen_ = false;
  bool wants_room_ = false;
  bool notify_drained_ = false;
  bool write_shut_requested_ = false;
  bool write_shut_ = false;
  bool failed_ = false;
  bool tls_failed_ = false;
  bool close_notify_received_ = false;
  bool closed_ = false;
};

}  // namespace turnpike::net
