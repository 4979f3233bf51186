#include "net/tls_stream.h"

#include <openssl/err.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "net/tls_context.h"

namespace turnpike::net {

std::unique_ptr<TlsStream> TlsStream::accept(SSL_CTX* ctx, const Sizes& sizes, std::string* error) {
  std::unique_ptr<TlsStream> s(new TlsStream);
  ERR_clear_error();
  s->ssl_.reset(SSL_new(ctx));
  BIO* internal = nullptr;
  BIO* network = nullptr;
  // BIO_new_bio_pair(bio1, writebuf1, bio2, writebuf2): what SSL writes to `internal` waits in
  // a buffer of sizes.outbound; what we write to `network` waits in one of sizes.inbound.
  if (!s->ssl_ || BIO_new_bio_pair(&internal, sizes.outbound, &network, sizes.inbound) != 1) {
    *error = "cannot create a TLS session: " + openssl_errors();
    return nullptr;
  }
  s->internal_ = internal;
  s->network_.reset(network);
  SSL_set_bio(s->ssl_.get(), internal, internal);
  SSL_set_accept_state(s->ssl_.get());
  return s;
}

core::MutableBytes TlsStream::inbound_space() {
  char* p = nullptr;
  const ossl_ssize_t n = BIO_nwrite0(network_.get(), &p);
  if (n <= 0) return {};
  return core::MutableBytes(reinterpret_cast<uint8_t*>(p), size_t(n));
}

size_t TlsStream::inbound_room() const {
  return BIO_ctrl_get_write_guarantee(network_.get());
}

void TlsStream::inbound_commit(size_t n) {
  char* p = nullptr;
  BIO_nwrite(network_.get(), &p, int(n));
}

bool TlsStream::inbound_copy(core::Bytes data) {
  while (!data.empty()) {
    core::MutableBytes space = inbound_space();
    if (space.empty()) return false;
    const size_t n = std::min(space.size(), data.size());
    std::memcpy(space.data(), data.data(), n);
    inbound_commit(n);
    data = data.subspan(n);
  }
  return true;
}

core::Bytes TlsStream::outbound() {
  char* p = nullptr;
  const ossl_ssize_t n = BIO_nread0(network_.get(), &p);
  if (n <= 0) return {};
  return core::Bytes(reinterpret_cast<const uint8_t*>(p), size_t(n));
}

void TlsStream::outbound_consume(size_t n) {
  char* p = nullptr;
  BIO_nread(network_.get(), &p, int(n));
}

size_t TlsStream::outbound_pending() const {
  return BIO_ctrl_pending(network_.get());
}

TlsStream::Io TlsStream::read(uint8_t* out, size_t cap, size_t* n) {
  *n = 0;
  ERR_clear_error();
  if (SSL_read_ex(ssl_.get(), out, cap, n) == 1) return Io::Ok;
  switch (SSL_get_error(ssl_.get(), 0)) {
    case SSL_ERROR_WANT_READ:
      return Io::WantRead;
    case SSL_ERROR_WANT_WRITE:
      return Io::WantWrite;
    case SSL_ERROR_ZERO_RETURN:
      return Io::Closed;  // close_notify
    default:
      error_ = openssl_errors();
      failed_ = true;
      return Io::Error;
  }
}

bool TlsStream::has_room_for(size_t plaintext) const {
  return BIO_ctrl_get_write_guarantee(internal_) >= plaintext + kRecordSlack;
}

size_t TlsStream::room() const {
  const size_t free = BIO_ctrl_get_write_guarantee(internal_);
  return free > kRecordSlack ? std::min(free - kRecordSlack, kMaxRecordPlaintext) : 0;
}

bool TlsStream::write(core::Bytes data) {
  if (!has_room_for(data.size())) return false;
  ERR_clear_error();
  size_t written = 0;
  if (SSL_write_ex(ssl_.get(), data.data(), data.size(), &written) == 1 && written == data.size()) {
    return true;
  }
  error_ = "TLS write failed: " + openssl_errors();
  failed_ = true;
  return false;
}

bool TlsStream::handshake_done() const {
  return SSL_is_init_finished(ssl_.get()) == 1;
}

bool TlsStream::close_notify() {
  if (failed_ || !handshake_done() || (SSL_get_shutdown(ssl_.get()) & SSL_SENT_SHUTDOWN)) {
    return false;
  }
  if (BIO_ctrl_get_write_guarantee(internal_) < kRecordSlack) return false;
  ERR_clear_error();
  // 0: sent, the client's has not arrived (we do not wait for it); 1: both sent.
  return SSL_shutdown(ssl_.get()) >= 0;
}

std::string TlsStream::describe() const {
  std::string s = SSL_get_version(ssl_.get());
  if (const SSL_CIPHER* c = SSL_get_current_cipher(ssl_.get()))
    s += std::string(" ") + SSL_CIPHER_get_name(c);
  const unsigned char* alpn = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(ssl_.get(), &alpn, &len);
  s += " alpn=" +
       (len ? std::string(reinterpret_cast<const char*>(alpn), len) : std::string("none"));
  return s;
}

void send_close_notify(TlsStream& tls, int fd) {
  if (!tls.close_notify()) return;
  for (;;) {  // the buffer is a ring: up to two contiguous parts
    const core::Bytes c = tls.outbound();
    if (c.empty()) return;
    const ssize_t n = ::send(fd, c.data(), c.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n <= 0) return;
    tls.outbound_consume(size_t(n));
    if (size_t(n) < c.size()) return;
  }
}

}  // namespace turnpike::net
