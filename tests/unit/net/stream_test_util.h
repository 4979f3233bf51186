// What the stream tests share: connected socket pairs (one end for the code under test, one for
// the test), an event loop driven one round at a time as a worker drives it (its callbacks, then
// StreamLoop::flush()), a throw-away certificate, and an OpenSSL client on the test's end.
#pragma once

#include <event2/event.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "core/bytes.h"
#include "net/openssl_ptr.h"
#include "net/stream_loop.h"
#include "net/tls_context.h"
#include "net/unique_fd.h"

namespace turnpike::net::test {

inline core::Bytes bytes(const std::string& s) {
  return core::Bytes(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}
inline std::string text(core::Bytes b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

// A connected pair of stream sockets: `outer` is the test's end, `inner` goes to the code.
struct Link {
  int outer = -1;
  UniqueFd inner;
  explicit Link(int type = AF_UNIX) {
    int fds[2];
    EXPECT_EQ(::socketpair(type, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    outer = fds[0];
    inner.reset(fds[1]);
  }
  ~Link() { close_outer(); }
  void close_outer() {
    if (outer >= 0) ::close(outer);
    outer = -1;
  }
  void write(const std::string& s) const {
    ASSERT_EQ(::send(outer, s.data(), s.size(), MSG_NOSIGNAL), ssize_t(s.size()));
  }
  // Everything readable now; `eof` tells whether the other end shut its write side.
  std::string read(bool* eof = nullptr) const {
    std::string out;
    char buf[65536];
    for (;;) {
      const ssize_t n = ::recv(outer, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        out.append(buf, size_t(n));
        continue;
      }
      if (eof) *eof = n == 0;
      return out;
    }
  }
};

// An event_base and its StreamLoop, run the way Worker runs them.
struct Loop {
  event_base* base = event_base_new();
  std::unique_ptr<StreamLoop> streams = std::make_unique<StreamLoop>(base);
  ~Loop() {
    streams.reset();
    event_base_free(base);
  }
  void round() {
    event_base_loop(base, EVLOOP_NONBLOCK);
    streams->flush();
  }
  void run(int rounds = 20) {
    for (int i = 0; i < rounds; ++i) round();
  }
};

// A self-signed EC certificate in a temporary directory, loaded as turnpike loads its own.
struct TestCert {
  std::string dir;
  TlsContextsPtr contexts;
  TestCert() {
    char tmpl[] = "/tmp/turnpike-stream-test-XXXXXX";
    dir = mkdtemp(tmpl);
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* x = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("turn.test"), -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509_sign(x, key, EVP_sha256());
    const std::string pem = dir + "/cert.pem";
    FILE* f = std::fopen(pem.c_str(), "w");
    PEM_write_X509(f, x);
    PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
    X509_free(x);
    EVP_PKEY_free(key);
    std::string error;
    contexts = load_tls_contexts(TlsFiles{pem, "", ""}, false, &error);
    EXPECT_TRUE(contexts) << error;
  }
  ~TestCert() {
    ::unlink((dir + "/cert.pem").c_str());
    ::rmdir(dir.c_str());
  }
  SSL_CTX* server() const { return contexts->tls.get(); }
};

// OpenSSL's client on the test's end of a Link, non-blocking: every call does what it can now.
struct TlsClient {
  SslCtxPtr ctx{SSL_CTX_new(TLS_client_method())};
  SslPtr ssl;
  explicit TlsClient(int fd, const char* alpn = nullptr) {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
    ssl.reset(SSL_new(ctx.get()));
    SSL_set_fd(ssl.get(), fd);
    SSL_set_connect_state(ssl.get());
    if (alpn) {
      std::string wire(1, char(std::strlen(alpn)));
      wire += alpn;
      SSL_set_alpn_protos(ssl.get(), reinterpret_cast<const unsigned char*>(wire.data()),
                          unsigned(wire.size()));
    }
  }
  bool handshake() { return SSL_do_handshake(ssl.get()) == 1; }
  bool write(const std::string& s) {
    size_t n = 0;
    return SSL_write_ex(ssl.get(), s.data(), s.size(), &n) == 1 && n == s.size();
  }
  // Plaintext readable now; `closed`: a close_notify arrived.
  std::string read(bool* closed = nullptr) {
    std::string out;
    char buf[16384];
    for (;;) {
      size_t n = 0;
      if (SSL_read_ex(ssl.get(), buf, sizeof buf, &n) == 1) {
        out.append(buf, n);
        continue;
      }
      if (closed) *closed = SSL_get_error(ssl.get(), 0) == SSL_ERROR_ZERO_RETURN;
      return out;
    }
  }
  // Records (TLS 1.3 application data) in what SSL_read delivers one call at a time.
  int read_calls(std::string* out) {
    int calls = 0;
    char buf[16384];
    for (;;) {
      size_t n = 0;
      if (SSL_read_ex(ssl.get(), buf, sizeof buf, &n) != 1) return calls;
      out->append(buf, n);
      ++calls;
    }
  }
};

}  // namespace turnpike::net::test
