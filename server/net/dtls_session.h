// One TURN client over DTLS (RFC 7350; DTLS 1.2, RFC 6347), created only after the client
// returned the listener's stateless cookie. Its datagrams arrive through the DtlsListener;
// OpenSSL reads them from a memory BIO and writes each record straight to the listener's socket
// through a small datagram BIO, so a session owns no socket. Each record of application data
// is one STUN or ChannelData message for the relay (no padding: DTLS keeps datagram borders).
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <string>

#include "core/socket_address.h"
#include "net/client_transport.h"
#include "net/connection_limits.h"
#include "net/connection_set.h"
#include "net/openssl_ptr.h"

namespace turnpike::net {

class DtlsListener;

class DtlsSession final : public Connection, public ClientTransport {
 public:
  // The path MTU the handshake assumes (records of the handshake are cut to fit it).
  static constexpr long kMtu = 1200;

  DtlsSession(DtlsListener& l, const core::SocketAddress& peer, ConnectionLimits::Slot slot,
              int64_t now_ms);
  ~DtlsSession() override;

  // Starts the handshake from the ClientHello that carried a valid cookie. False: drop it.
  bool begin(SSL_CTX* ctx, core::Bytes client_hello, const relay::Now& now);
  void on_datagram(core::Bytes datagram, const relay::Now& now);
  bool established() const;
  const core::SocketAddress& peer() const { return peer_; }
  DtlsListener& listener() { return listener_; }
  // Called by the datagram BIO for every record OpenSSL writes.
  void write_datagram(core::Bytes d);

  // relay's ClientTransport.
  void send(const core::SocketAddress& to, core::Bytes data) override;
  relay::Transport kind() const override { return relay::Transport::Dtls; }

  // Connection.
  void tick(const relay::Now& now) override;
  void finish(const relay::Now& now) override;

 private:
  void pump(const relay::Now& now);
  void close(const std::string& why, bool notice = false);

  DtlsListener& listener_;
  core::SocketAddress peer_;
  ConnectionLimits::Slot slot_;
  SslPtr ssl_;
  BIO* rbio_ = nullptr;  // owned by ssl_
  relay::FiveTuple tuple_;
  relay::ClientRef ref_;
  int64_t idle_since_ms_;
  bool handshake_logged_ = false;
  std::string reason_;
  bool polite_close_ = true;  // send a close_notify when closing
};

// The cookie callbacks OpenSSL's DTLSv1_listen uses (set on the DTLS SSL_CTX): the same
// stateless HMAC cookie as the listener's (core/dtls_cookie.h).
int dtls_generate_cookie(SSL* ssl, unsigned char* cookie, unsigned int* len);
int dtls_verify_cookie(SSL* ssl, const unsigned char* cookie, unsigned int len);

}  // namespace turnpike::net
