// The certificate and the OpenSSL contexts new TLS and DTLS handshakes use (RFC 8446, RFC 5246,
// RFC 6347): TLS 1.2 and 1.3 only, renegotiation refused, ALPN "stun.turn" (RFC 7443) chosen
// when offered and clients without ALPN accepted.
//
// A set of contexts is immutable once loaded. Workers hold the current set through a
// shared_ptr and swap it on reload; every SSL object holds its own reference to the SSL_CTX it
// was made from, so connections made before a reload keep their certificate.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "net/openssl_ptr.h"

namespace turnpike::net {

struct TlsFiles {
  std::string cert;         // PEM: the server certificate first, then its chain
  std::string pkey;         // PEM private key; empty: it is in `cert`
  std::string cipher_list;  // OpenSSL cipher list for TLS 1.2 / DTLS 1.2; empty: OpenSSL's default
};

struct TlsContexts {
  SslCtxPtr tls;
  SslCtxPtr dtls;  // null unless asked for
  // "subject CN=..., serial 0A1B..., valid until ..." for log lines.
  std::string description;
  bool expired = false;
  int64_t not_after_unix = 0;  // the leaf certificate's notAfter (metrics, /health)
};
using TlsContextsPtr = std::shared_ptr<const TlsContexts>;

// Reads the files (as the current user: call it before dropping privileges) and builds the
// contexts. On failure returns null and an error naming the file, the user and OpenSSL's reason.
TlsContextsPtr load_tls_contexts(const TlsFiles& files, bool with_dtls, std::string* error);

// The reasons on this thread's OpenSSL error queue, joined, and the queue cleared.
std::string openssl_errors();

}  // namespace turnpike::net
