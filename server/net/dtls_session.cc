#include "net/dtls_session.h"

#include <cstddef>
#include <utility>

#include <openssl/err.h>

#include "core/dtls_cookie.h"
#include "net/clock.h"
#include "net/dtls_listener.h"
#include "net/log.h"
#include "net/tls_context.h"
#include "net/udp.h"
#include "net/worker.h"

namespace turnpike::net {
namespace {

// A write-only BIO that sends each record OpenSSL writes as one datagram from the listener's
// socket to the session's peer. A full socket buffer drops the datagram, as the network would;
// DTLS retransmits its handshake and the media above it tolerates loss.
int datagram_write(BIO* b, const char* data, int len) {
  auto* s = static_cast<DtlsSession*>(BIO_get_data(b));
  if (s && len > 0)
    s->write_datagram(core::Bytes(reinterpret_cast<const uint8_t*>(data), size_t(len)));
  return len;
}

long datagram_ctrl(BIO* b, int cmd, long, void*) {
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD: {
      auto* s = static_cast<DtlsSession*>(BIO_get_data(b));
      return s && s->peer().ip().is_v6() ? 48 : 28;  // IP and UDP headers
    }
    default:
      return 0;  // no MTU to query, nothing pending, no peer to set
  }
}

int datagram_create(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

BIO_METHOD* datagram_method() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m =
        BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "turnpike DTLS datagram");
    BIO_meth_set_write(m, datagram_write);
    BIO_meth_set_ctrl(m, datagram_ctrl);
    BIO_meth_set_create(m, datagram_create);
    return m;
  }();
  return method;
}

}  // namespace

int dtls_generate_cookie(SSL* ssl, unsigned char* cookie, unsigned int* len) {
  auto* s = static_cast<DtlsSession*>(SSL_get_app_data(ssl));
  if (!s) return 0;
  s->listener().cookie().make(s->peer(), now().unix_s(), cookie);
  *len = core::DtlsCookie::kSize;
  return 1;
}

int dtls_verify_cookie(SSL* ssl, const unsigned char* cookie, unsigned int len) {
  auto* s = static_cast<DtlsSession*>(SSL_get_app_data(ssl));
  if (!s) return 0;
  return s->listener().cookie().verify(core::Bytes(cookie, len), s->peer(), now().unix_s()) ? 1 : 0;
}

DtlsSession::DtlsSession(DtlsListener& l, const core::SocketAddress& peer,
                         ConnectionLimits::Slot slot, int64_t now_ms)
    : listener_(l), peer_(peer), slot_(std::move(slot)), idle_since_ms_(now_ms) {
  tuple_ = relay::FiveTuple{peer_, l.local(), relay::Transport::Dtls};
  ref_ = relay::ClientRef{static_cast<ClientTransport*>(this), peer_};
}

DtlsSession::~DtlsSession() {
  // The datagram BIO points at this session; OpenSSL may write (an alert) while freeing.
  if (ssl_) BIO_set_data(SSL_get_wbio(ssl_.get()), nullptr);
}

bool DtlsSession::begin(SSL_CTX* ctx, core::Bytes client_hello, const relay::Now& now) {
  ERR_clear_error();
  ssl_.reset(SSL_new(ctx));
  BIO* rbio = BIO_new(BIO_s_mem());
  BIO* wbio = BIO_new(datagram_method());
  if (!ssl_ || !rbio || !wbio) {
    BIO_free(rbio);
    BIO_free(wbio);
    close("cannot create a DTLS session: " + openssl_errors(), true);
    return false;
  }
  BIO_set_mem_eof_return(rbio, -1);  // empty means "wait for the next datagram", not EOF
  BIO_set_data(wbio, this);
  SSL_set_bio(ssl_.get(), rbio, wbio);
  rbio_ = rbio;
  SSL_set_app_data(ssl_.get(), this);
  SSL_set_accept_state(ssl_.get());
  SSL_set_mtu(ssl_.get(), kMtu);
  BIO_write(rbio_, client_hello.data(), int(client_hello.size()));
  // The listener has checked the cookie already; DTLSv1_listen checks it again (through
  // dtls_verify_cookie) and sets OpenSSL's sequence numbers as after a cookie exchange
  // (RFC 6347 §4.2.1: the second ClientHello has message_seq 1).
  BIO_ADDR* ignored = BIO_ADDR_new();
  const int r = DTLSv1_listen(ssl_.get(), ignored);
  BIO_ADDR_free(ignored);
  if (r != 1) {
    close("DTLS cookie exchange failed: " + openssl_errors(), true);
    return false;
  }
  SSL_set_mtu(ssl_.get(), kMtu);
  pump(now);
  return !closing();
}

bool DtlsSession::established() const {
  return ssl_ && SSL_is_init_finished(ssl_.get()) == 1;
}

void DtlsSession::on_datagram(core::Bytes d, const relay::Now& now) {
  if (closing() || !ssl_) return;
  BIO_write(rbio_, d.data(), int(d.size()));
  pump(now);
}

void DtlsSession::pump(const relay::Now& now) {
  uint8_t* plain = listener_.plaintext();
  for (;;) {
    ERR_clear_error();
    size_t n = 0;
    if (SSL_read_ex(ssl_.get(), plain, DtlsListener::kPlaintextSize, &n) == 1) {
      // One record, one message (RFC 7350 §... DTLS keeps message borders; no stream framing).
      listener_.worker().server().on_client_packet(ref_, tuple_, core::Bytes(plain, n), now);
      if (closing()) return;
      continue;
    }
    const int e = SSL_get_error(ssl_.get(), 0);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) break;
    // No close_notify of ours after the client's, or after a fatal error (OpenSSL forbids
    // SSL_shutdown() then).
    polite_close_ = false;
    if (e == SSL_ERROR_ZERO_RETURN) {
      close("closed by the client (DTLS close_notify)");
      return;
    }
    close(
        std::string(established() ? "DTLS error: " : "DTLS handshake failed: ") + openssl_errors(),
        true);
    return;
  }
  // Whatever is left in the memory BIO (a damaged record OpenSSL skipped) is not kept.
  (void)BIO_reset(rbio_);
  if (!handshake_logged_ && established()) {
    handshake_logged_ = true;
    const SSL_CIPHER* c = SSL_get_current_cipher(ssl_.get());
    log(LogLevel::Info, "dtls session from ", peer_.to_string(), ": ", SSL_get_version(ssl_.get()),
        " ", c ? SSL_CIPHER_get_name(c) : "");
  }
}

void DtlsSession::write_datagram(core::Bytes d) {
  if (!send_datagram(listener_.fd(), peer_, d)) listener_.worker().count_send_drop();
}

void DtlsSession::send(const core::SocketAddress&, core::Bytes data) {
  if (closing() || !established()) return;
  ERR_clear_error();
  size_t written = 0;
  if (SSL_write_ex(ssl_.get(), data.data(), data.size(), &written) != 1) {
    close("DTLS write failed: " + openssl_errors(), true);
  }
}

void DtlsSession::tick(const relay::Now& now) {
  // Handshake retransmissions (RFC 6347 §4.2.4); OpenSSL's timer starts at one second.
  if (!established()) DTLSv1_handle_timeout(ssl_.get());
  // As for TCP: no allocation for max-allocate-timeout (including a handshake that never
  // finishes) ends the session.
  if (listener_.worker().server().find(tuple_)) {
    idle_since_ms_ = now.mono_ms;
    return;
  }
  const uint32_t limit = listener_.worker().stream_settings().idle_timeout_s;
  if (limit && now.mono_ms - idle_since_ms_ >= int64_t(limit) * 1000) {
    close("no allocation for " + std::to_string(limit) + " s (max-allocate-timeout)");
  }
}

void DtlsSession::close(const std::string& why, bool notice) {
  if (closing()) return;
  reason_ = why;
  Worker& w = listener_.worker();
  if (notice && w.log_budget().take(now().mono_ms)) {
    log(LogLevel::Notice, "closing dtls session from ", peer_.to_string(), " on ",
        listener_.local().to_string(), ": ", why);
  }
  w.connections().close(*this);
}

void DtlsSession::finish(const relay::Now& now) {
  // The session was the client's way in: its allocation ends with it, as with TCP/TLS
  // (RFC 8656 §3.1). A close_notify is sent to a client that is still there.
  if (established() && polite_close_) SSL_shutdown(ssl_.get());
  listener_.worker().server().on_client_closed(tuple_, now);
  listener_.forget(this);
  log(LogLevel::Info, "dtls session from ", peer_.to_string(), " closed: ", reason_);
}

}  // namespace turnpike::net
