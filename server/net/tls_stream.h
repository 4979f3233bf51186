// The TLS side of one TCP connection (net/stream.h), over a BIO pair (fixed-size buffers in both
// directions): the stream receives ciphertext straight into the inbound buffer and sends
// straight from the outbound one, so nothing is copied or allocated per record, and the buffers
// bound what a client can make the server hold.
//
// Neither buffer needs to hold a whole record: OpenSSL reads a record into its own buffer piece
// by piece (and, with SSL_MODE_RELEASE_BUFFERS, frees that buffer between records), and a
// record that does not fit the outbound buffer is refused (has_room_for()) until it has room.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/bytes.h"
#include "net/openssl_ptr.h"

namespace turnpike::net {

class TlsStream {
 public:
  // What one SSL_write may add around its plaintext (record header, tag or MAC and padding,
  // a pending KeyUpdate); a write is refused unless this much more room is free.
  static constexpr size_t kRecordSlack = 1024;
  // The largest plaintext of one record (RFC 8446 §5.1, RFC 5246 §6.2.1: 2^14).
  static constexpr size_t kMaxRecordPlaintext = 16384;

  struct Sizes {
    size_t inbound = 8192;    // ciphertext received, not yet read by OpenSSL
    size_t outbound = 32768;  // ciphertext written by OpenSSL, not yet sent
  };

  // A server-side TLS stream from `ctx`, or null (error in `error`).
  static std::unique_ptr<TlsStream> accept(SSL_CTX* ctx, const Sizes& sizes, std::string* error);

  // --- the network side
  // Where to receive ciphertext; empty when the inbound buffer is full.
  core::MutableBytes inbound_space();
  size_t inbound_room() const;  // how much more ciphertext fits
  void inbound_commit(size_t n);
  // Copies `data` into the inbound buffer (bytes read before TLS was known); false if too big.
  bool inbound_copy(core::Bytes data);
  // Ciphertext waiting to be sent (a contiguous part of it), and marking it sent.
  core::Bytes outbound();
  void outbound_consume(size_t n);
  size_t outbound_pending() const;

  // --- the application side
  enum class Io : uint8_t { Ok, WantRead, WantWrite, Closed, Error };
  // Reads plaintext (driving the handshake first). Ok with *n > 0, or why not.
  Io read(uint8_t* out, size_t cap, size_t* n);
  // Encrypts `data` into the outbound buffer whole, or refuses (false) when there is not
  // enough room: the caller then drops the message, so the stream of records stays intact.
  bool write(core::Bytes data);
  bool has_room_for(size_t plaintext) const;
  // The largest plaintext one write() takes now (0: none).
  size_t room() const;
  bool handshake_done() const;
  // Queues a close_notify alert behind what the outbound buffer holds (RFC 8446 §6.1, RFC 5246
  // §7.2.1: each side MUST send one before closing its write side, unless it sent an error
  // alert). False when there is nothing to close politely: no finished handshake, a fatal
  // error already, a close_notify already sent, or no room.
  bool close_notify();

  // For log lines.
  std::string describe() const;  // "TLSv1.3 TLS_AES_256_GCM_SHA384 alpn=stun.turn"
  const std::string& error() const { return error_; }

 private:
  TlsStream() = default;
  SslPtr ssl_;
  BIO* internal_ = nullptr;  // owned by ssl_
  BioPtr network_;
  std::string error_;
  bool failed_ = false;  // a fatal error: OpenSSL forbids SSL_shutdown() after one
};

// Just before `fd` closes: a close_notify, and what the socket takes of the outbound buffer
// now, without waiting (a client that stopped reading gets a plain close).
void send_close_notify(TlsStream& tls, int fd);

}  // namespace turnpike::net
