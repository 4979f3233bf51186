// HttpServer (net/http_server.h) on real loopback sockets, over plain HTTP and over HTTPS with a
// certificate made here: routes, 404 and 405, HEAD, headers and the peer's address reach the
// handler, a handler that throws is a 500, and a swapped certificate serves new connections.
#include "net/http_server.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>
#include <string>

#include "net/openssl_ptr.h"

namespace turnpike::net {
namespace {

core::SocketAddress loopback_any_port() {
  return *core::SocketAddress::parse("127.0.0.1:0");
}

int connect_to(const core::SocketAddress& a) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(a.port());
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string request_text(const std::string& method, const std::string& path) {
  return method + " " + path + " HTTP/1.1\r\nHost: test\r\nX-Probe: Yes\r\nConnection: close\r\n\r\n";
}

// Sends one request (with `body`, if any) and reads until the server closes.
std::string fetch(const core::SocketAddress& a, const std::string& method, const std::string& path,
                  const std::string& body = "") {
  const int fd = connect_to(a);
  if (fd < 0) return "connect failed";
  std::string req = request_text(method, path);
  if (!body.empty()) {
    req.insert(req.size() - 2, "Content-Length: " + std::to_string(body.size()) + "\r\n");
    req += body;
  }
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != ssize_t(req.size())) return "send failed";
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) out.append(buf, size_t(n));
  ::close(fd);
  return out;
}

// A self-signed certificate for CN=`name`, made with OpenSSL.
SslCtxShared server_context(const std::string& name) {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_NAME* subject = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(name.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), subject);
  X509_set_pubkey(cert.get(), key.get());
  X509_sign(cert.get(), key.get(), EVP_sha256());
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX_use_certificate(ctx, cert.get());
  SSL_CTX_use_PrivateKey(ctx, key.get());
  return SslCtxShared(ctx, SSL_CTX_free);
}

struct TlsResult {
  std::string response;
  std::string subject_cn;
};

TlsResult fetch_tls(const core::SocketAddress& a, const std::string& path) {
  TlsResult r;
  const int fd = connect_to(a);
  if (fd < 0) return r;
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  SslPtr ssl(SSL_new(ctx.get()));
  SSL_set_fd(ssl.get(), fd);
  if (SSL_connect(ssl.get()) == 1) {
    X509* peer = SSL_get1_peer_certificate(ssl.get());
    char cn[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn);
    X509_free(peer);
    r.subject_cn = cn;
    const std::string req = request_text("GET", path);
    SSL_write(ssl.get(), req.data(), int(req.size()));
    char buf[4096];
    for (int n; (n = SSL_read(ssl.get(), buf, sizeof buf)) > 0;) r.response.append(buf, size_t(n));
  }
  ERR_clear_error();
  ssl.reset();
  ::close(fd);
  return r;
}

std::string body_of(const std::string& response) {
  const size_t at = response.find("\r\n\r\n");
  return at == std::string::npos ? "" : response.substr(at + 4);
}

TEST(HttpServer, RoutesMethodsAndHeaders) {
  HttpServer server("test");
  HttpRequest seen;
  server.handle("/hello", [&](const HttpRequest& r) {
    seen = r;
    HttpResponse resp = HttpResponse::text(200, "hello " + r.query);
    resp.headers.emplace_back("X-Answer", "42");
    return resp;
  });
  server.handle("/broken", [](const HttpRequest&) -> HttpResponse {
    throw std::runtime_error("handler failed");
  });
  server.handle("/down", [](const HttpRequest&) { return HttpResponse::text(503, "draining"); });
  ASSERT_EQ(server.listen(loopback_any_port()), "");
  const core::SocketAddress at = server.bound(0);
  ASSERT_NE(at.port(), 0);
  server.start();

  const std::string ok = fetch(at, "GET", "/hello?x=1");
  EXPECT_EQ(ok.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << ok;
  EXPECT_NE(ok.find("X-Answer: 42\r\n"), std::string::npos) << ok;
  EXPECT_NE(ok.find("Content-Type: text/plain; charset=utf-8\r\n"), std::string::npos) << ok;
  EXPECT_EQ(body_of(ok), "hello x=1\n");
  EXPECT_EQ(seen.method, "GET");
  EXPECT_EQ(seen.path, "/hello");
  EXPECT_EQ(seen.query, "x=1");
  EXPECT_EQ(seen.header("x-probe"), "Yes");
  EXPECT_EQ(seen.peer.ip().to_string(), "127.0.0.1");
  EXPECT_FALSE(seen.tls);

  const std::string head = fetch(at, "HEAD", "/hello");
  EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << head;
  EXPECT_EQ(body_of(head), "") << "HEAD has no body";
  EXPECT_EQ(seen.method, "HEAD");

  EXPECT_EQ(fetch(at, "GET", "/nothing").rfind("HTTP/1.1 404 ", 0), 0u);
  EXPECT_EQ(fetch(at, "POST", "/hello").rfind("HTTP/1.1 405 ", 0), 0u);
  EXPECT_EQ(fetch(at, "GET", "/broken").rfind("HTTP/1.1 500 ", 0), 0u);
  const std::string down = fetch(at, "GET", "/down");
  EXPECT_EQ(down.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0), 0u) << down;
  EXPECT_EQ(body_of(down), "draining\n");
  server.stop();
  EXPECT_EQ(fetch(at, "GET", "/hello"), "connect failed") << "stop() closes the listener";
}

TEST(HttpServer, PostWithASmallBodyWherePostIsTaken) {
  HttpServer server("test");
  server.handle(
      "/submit", [](const HttpRequest& r) { return HttpResponse::text(200, r.method + " " + r.body); },
      true);
  server.handle("/get-only", [](const HttpRequest&) { return HttpResponse::text(200, "x"); });
  ASSERT_EQ(server.listen(loopback_any_port()), "");
  const core::SocketAddress at = server.bound(0);
  server.start();
  EXPECT_EQ(body_of(fetch(at, "POST", "/submit", "a=1&b=2")), "POST a=1&b=2\n");
  EXPECT_EQ(body_of(fetch(at, "GET", "/submit")), "GET \n");
  const std::string refused = fetch(at, "POST", "/get-only", "x");
  EXPECT_EQ(refused.rfind("HTTP/1.1 405 ", 0), 0u) << refused;
  EXPECT_NE(refused.find("Allow: GET, HEAD\r\n"), std::string::npos) << refused;
  const std::string big = fetch(at, "POST", "/submit", std::string(HttpServer::kMaxBody + 1, 'x'));
  EXPECT_EQ(big.rfind("HTTP/1.1 413 ", 0), 0u) << big.substr(0, 80);
}

TEST(HttpServer, BindErrorsNameTheAddress) {
  HttpServer first("first");
  ASSERT_EQ(first.listen(loopback_any_port()), "");
  HttpServer second("second");
  const std::string err = second.listen(first.bound(0));
  EXPECT_NE(err.find("second: cannot bind 127.0.0.1:"), std::string::npos) << err;
  EXPECT_NE(err.find("Address already in use"), std::string::npos) << err;
}

TEST(HttpServer, HttpsWithASwappableCertificate) {
  HttpServer server("check page");
  server.handle("/", [](const HttpRequest& r) {
    return HttpResponse::text(200, r.tls ? "over tls" : "plain");
  });
  ASSERT_EQ(server.listen(loopback_any_port(), server_context("first.test")), "");
  ASSERT_EQ(server.listen(loopback_any_port()), "");  // a plain listener beside it
  server.start();

  TlsResult r = fetch_tls(server.bound(0), "/");
  EXPECT_EQ(r.subject_cn, "first.test");
  EXPECT_EQ(r.response.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r.response;
  EXPECT_EQ(body_of(r.response), "over tls\n");
  EXPECT_EQ(body_of(fetch(server.bound(1), "GET", "/")), "plain\n");

  server.set_tls(0, server_context("second.test"));
  // set_tls is posted to the server's thread; the next connection may still race it once.
  for (int i = 0; i < 50 && r.subject_cn != "second.test"; ++i) {
    usleep(20'000);
    r = fetch_tls(server.bound(0), "/");
  }
  EXPECT_EQ(r.subject_cn, "second.test");
  EXPECT_EQ(body_of(r.response), "over tls\n");
}

TEST(HttpServer, AdoptsAListeningSocket) {
  HttpServer first("first");
  ASSERT_EQ(first.listen(loopback_any_port()), "");
  const core::SocketAddress at = first.bound(0);
  // The socket outlives the first server (a hand-over passes it on): dup it, then let go.
  UniqueFd copy(::dup(first.listening_fd(0)));
  first.stop();
  HttpServer second("second");
  second.handle("/", [](const HttpRequest&) { return HttpResponse::text(200, "second"); });
  ASSERT_EQ(second.adopt(std::move(copy)), "");
  EXPECT_EQ(second.bound(0), at);
  second.start();
  EXPECT_EQ(body_of(fetch(at, "GET", "/")), "second\n");
}

}  // namespace
}  // namespace turnpike::net
