#include "probe/stun_transport.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "core/ip_address.h"
#include "core/stream_framing.h"

namespace turnpike::probe {

namespace {

int wait_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return int(std::max<int64_t>(0, left.count()));
}

// Waits for `events` on fd; false on timeout.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, wait_ms(deadline));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
}

std::string errno_text(int e) {
  return std::strerror(e);
}

std::optional<core::SocketAddress> local_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return std::nullopt;
  return core::SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

net::UniqueFd new_socket(const core::SocketAddress& server, int type, std::string* error) {
  const int family = server.family() == core::Family::V4 ? AF_INET : AF_INET6;
  net::UniqueFd fd(::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) *error = "cannot open a socket: " + errno_text(errno);
  return fd;
}

// ---- UDP ------------------------------------------------------------------------------------

class UdpTransport final : public StunTransport {
 public:
  explicit UdpTransport(net::UniqueFd fd) : fd_(std::move(fd)) {}
  Transport kind() const override { return Transport::Udp; }

  bool send(core::Bytes m, Clock::time_point, std::string* error) override {
    if (::send(fd_.get(), m.data(), m.size(), 0) == ssize_t(m.size())) return true;
    if (errno == ECONNREFUSED) {
      *error = "port unreachable (ICMP): nothing listens on " + server_.to_string() + "/udp";
    } else if (errno == EPERM || errno == EACCES) {
      // A netfilter DROP/REJECT in this machine's output path answers the sender this way.
      *error = "UDP to " + server_.to_string() + " is blocked by this machine's firewall (send: " +
               errno_text(errno) + ")";
    } else {
      *error = "send to " + server_.to_string() + " failed: " + errno_text(errno);
    }
    return false;
  }

  Received receive(std::vector<uint8_t>* out, Clock::time_point deadline,
                   std::string* error) override {
    for (;;) {
      out->resize(65536);
      const ssize_t n = ::recv(fd_.get(), out->data(), out->size(), 0);
      if (n >= 0) {
        out->resize(size_t(n));
        return Received::Message;
      }
      if (errno == ECONNREFUSED) {
        *error = "port unreachable (ICMP): nothing listens on " + server_.to_string() + "/udp";
        return Received::Refused;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        *error = "receive failed: " + errno_text(errno);
        return Received::Failed;
      }
      if (!wait_for(fd_.get(), POLLIN, deadline)) return Received::Timeout;
    }
  }

  void set_addresses(const core::SocketAddress& local, const core::SocketAddress& server) {
    local_ = local;
    server_ = server;
  }

 private:
  net::UniqueFd fd_;
};

// ---- TCP and TLS ----------------------------------------------------------------------------

class StreamTransport final : public StunTransport {
 public:
  StreamTransport(net::UniqueFd fd, Transport kind) : fd_(std::move(fd)), kind_(kind) {}
  Transport kind() const override { return kind_; }
  int fd() const { return fd_.get(); }
  void set_ssl(net::SslPtr ssl) { ssl_ = std::move(ssl); }
  SSL* ssl() const { return ssl_.get(); }
  void set_addresses(const core::SocketAddress& local, const core::SocketAddress& server) {
    local_ = local;
    server_ = server;
  }

  bool send(core::Bytes m, Clock::time_point deadline, std::string* error) override {
    size_t done = 0;
    while (done < m.size()) {
      short want = POLLOUT;
      if (ssl_) {
        const int n = SSL_write(ssl_.get(), m.data() + done, int(m.size() - done));
        if (n > 0) {
          done += size_t(n);
          continue;
        }
        const int e = SSL_get_error(ssl_.get(), n);
        if (e == SSL_ERROR_WANT_READ) {
          want = POLLIN;
        } else if (e != SSL_ERROR_WANT_WRITE) {
          *error = "TLS write failed";
          return false;
        }
      } else {
        const ssize_t n = ::send(fd_.get(), m.data() + done, m.size() - done, MSG_NOSIGNAL);
        if (n > 0) {
          done += size_t(n);
          continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
          *error = "send failed: " + errno_text(errno);
          return false;
        }
      }
      if (!wait_for(fd_.get(), want, deadline)) {
        *error = "the server does not read (send timed out)";
        return false;
      }
    }
    return true;
  }

  Received receive(std::vector<uint8_t>* out, Clock::time_point deadline,
                   std::string* error) override {
    for (;;) {
      if (auto f = core::next_frame(core::Bytes(buf_.data(), buf_.size()))) {
        if (f->kind == core::FrameKind::Invalid) {
          *error = "the server sent bytes that are not STUN or ChannelData";
          return Received::Failed;
        }
        if (buf_.size() >= f->size) {
          out->assign(buf_.begin(), buf_.begin() + f->size);
          buf_.erase(buf_.begin(), buf_.begin() + f->size);
          return Received::Message;
        }
      }
      uint8_t chunk[16384];
      short want = POLLIN;
      if (ssl_) {
        const int n = SSL_read(ssl_.get(), chunk, sizeof chunk);
        if (n > 0) {
          buf_.insert(buf_.end(), chunk, chunk + n);
          continue;
        }
        const int e = SSL_get_error(ssl_.get(), n);
        if (e == SSL_ERROR_ZERO_RETURN) return Received::Closed;
        if (e == SSL_ERROR_WANT_WRITE) {
          want = POLLOUT;
        } else if (e == SSL_ERROR_SYSCALL && (n == 0 || errno == ECONNRESET)) {
          return Received::Closed;
        } else if (e != SSL_ERROR_WANT_READ) {
          *error = "TLS read failed";
          return Received::Failed;
        }
      } else {
        const ssize_t n = ::recv(fd_.get(), chunk, sizeof chunk, 0);
        if (n > 0) {
          buf_.insert(buf_.end(), chunk, chunk + n);
          continue;
        }
        if (n == 0 || errno == ECONNRESET) return Received::Closed;
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
          *error = "receive failed: " + errno_text(errno);
          return Received::Failed;
        }
      }
      if (!wait_for(fd_.get(), want, deadline)) return Received::Timeout;
    }
  }

 private:
  net::UniqueFd fd_;
  Transport kind_;
  net::SslPtr ssl_;
  std::vector<uint8_t> buf_;
};

std::unique_ptr<StreamTransport> connect_stream(const core::SocketAddress& server, Transport kind,
                                                Clock::time_point deadline, std::string* error) {
  net::UniqueFd fd = new_socket(server, SOCK_STREAM, error);
  if (!fd) return nullptr;
  sockaddr_storage ss{};
  const socklen_t len = server.to_sockaddr(ss);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS) {
    *error = "connect to " + server.to_string() + " failed: " + errno_text(errno);
    return nullptr;
  }
  if (!wait_for(fd.get(), POLLOUT, deadline)) {
    *error = "no answer to the TCP connection request to " + server.to_string() +
             " (timed out: a firewall drops it, or the host is down)";
    return nullptr;
  }
  int so_error = 0;
  socklen_t so_len = sizeof so_error;
  ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &so_len);
  if (so_error != 0) {
    *error = so_error == ECONNREFUSED
                 ? "connection refused: nothing listens on " + server.to_string() + "/tcp"
                 : "connect to " + server.to_string() + " failed: " + errno_text(so_error);
    return nullptr;
  }
  const int one = 1;
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  auto local = local_of(fd.get());
  auto t = std::make_unique<StreamTransport>(std::move(fd), kind);
  t->set_addresses(local.value_or(core::SocketAddress()), server);
  return t;
}

// ---- TLS report -----------------------------------------------------------------------------

struct VerifyLog {
  std::string first_error;
};

int record_verify(int preverify_ok, X509_STORE_CTX* store) {
  SSL* ssl = static_cast<SSL*>(
      X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* log = static_cast<VerifyLog*>(SSL_get_app_data(ssl));
  if (!preverify_ok && log && log->first_error.empty()) {
    const int err = X509_STORE_CTX_get_error(store);
    const int depth = X509_STORE_CTX_get_error_depth(store);
    log->first_error = std::string(X509_verify_cert_error_string(err)) +
                       (depth == 0 ? " (the server's certificate)"
                                   : " (certificate " + std::to_string(depth) + " of the chain)");
  }
  return 1;  // go on: the report says what was wrong, and the caller refuses to use it
}

std::string name_text(X509_NAME* name) {
  net::BioPtr mem(BIO_new(BIO_s_mem()));
  if (!mem || !name) return "";
  X509_NAME_print_ex(mem.get(), name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long n = BIO_get_mem_data(mem.get(), &data);
  return std::string(data, size_t(std::max(0L, n)));
}

std::vector<std::string> alt_names(X509* cert) {
  std::vector<std::string> out;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* g = sk_GENERAL_NAME_value(names, i);
    if (g->type == GEN_DNS) {
      const ASN1_STRING* s = g->d.dNSName;
      out.push_back("DNS:" + std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                         size_t(ASN1_STRING_length(s))));
    } else if (g->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* s = g->d.iPAddress;
      const int n = ASN1_STRING_length(s);
      const uint8_t* d = ASN1_STRING_get0_data(s);
      if (n == 4) out.push_back("IP:" + core::IpAddress::v4(d).to_string());
      if (n == 16) out.push_back("IP:" + core::IpAddress::v6(d).to_string());
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

int64_t seconds_until(const ASN1_TIME* t) {
  int days = 0, secs = 0;
  if (!t || ASN1_TIME_diff(&days, &secs, nullptr, t) != 1) return 0;
  return int64_t(days) * 86400 + secs;
}

void describe_certificate(SSL* ssl, const TlsOptions& o, TlsReport* r) {
  X509* leaf = SSL_get0_peer_certificate(ssl);
  if (!leaf) return;
  r->have_certificate = true;
  r->subject = name_text(X509_get_subject_name(leaf));
  r->issuer = name_text(X509_get_issuer_name(leaf));
  r->names = alt_names(leaf);
  r->seconds_left = seconds_until(X509_get0_notAfter(leaf));
  r->seconds_to_start = seconds_until(X509_get0_notBefore(leaf));
  // RFC 6125 §6.4: DNS names from subjectAltName (no partial wildcards); IP literals against
  // iPAddress entries only.
  if (auto ip = core::IpAddress::parse(o.host)) {
    r->name_matches = X509_check_ip_asc(leaf, o.host.c_str(), 0) == 1;
  } else {
    r->name_matches = X509_check_host(leaf, o.host.data(), o.host.size(),
                                      X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, nullptr) == 1;
  }
}

std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

}  // namespace

std::unique_ptr<StunTransport> open_udp(const core::SocketAddress& server, std::string* error) {
  net::UniqueFd fd = new_socket(server, SOCK_DGRAM, error);
  if (!fd) return nullptr;
  sockaddr_storage ss{};
  const socklen_t len = server.to_sockaddr(ss);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    *error = "cannot send to " + server.to_string() + ": " + errno_text(errno);
    return nullptr;
  }
  auto local = local_of(fd.get());
  auto t = std::make_unique<UdpTransport>(std::move(fd));
  t->set_addresses(local.value_or(core::SocketAddress()), server);
  return t;
}

std::unique_ptr<StunTransport> open_tcp(const core::SocketAddress& server, Clock::time_point deadline,
                                        std::string* error) {
  return connect_stream(server, Transport::Tcp, deadline, error);
}

std::unique_ptr<StunTransport> open_tls(const core::SocketAddress& server, const TlsOptions& o,
                                        Clock::time_point deadline, TlsReport* r,
                                        std::string* error) {
  auto t = connect_stream(server, Transport::Tls, deadline, error);
  if (!t) return nullptr;
  const auto t0 = Clock::now();
  net::SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) {
    *error = "cannot create a TLS context: " + openssl_errors();
    return nullptr;
  }
  // Like a browser: TLS 1.2 or newer.
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  // The system's trust store, and --ca on top of it (as libstrophe does for the XMPP login).
  r->trust_store = o.ca_file.empty() ? "the system store" : "the system store and " + o.ca_file;
  if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1 ||
      (!o.ca_file.empty() &&
       SSL_CTX_load_verify_locations(ctx.get(), o.ca_file.c_str(), nullptr) != 1)) {
    r->handshake_error = "cannot load the trust store " + r->trust_store + ": " + openssl_errors();
    *error = r->handshake_error;
    return nullptr;
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, record_verify);
  net::SslPtr ssl(SSL_new(ctx.get()));
  VerifyLog log;
  SSL_set_app_data(ssl.get(), &log);
  r->host = o.host;
  if (!core::IpAddress::parse(o.host)) {
    r->sni = o.host;
    SSL_set_tlsext_host_name(ssl.get(), o.host.c_str());
  }
  if (!o.alpn.empty()) {
    std::vector<uint8_t> wire;
    for (const auto& p : o.alpn) {
      wire.push_back(uint8_t(p.size()));
      wire.insert(wire.end(), p.begin(), p.end());
    }
    SSL_set_alpn_protos(ssl.get(), wire.data(), unsigned(wire.size()));
  }
  SSL_set_fd(ssl.get(), t->fd());
  for (;;) {
    ERR_clear_error();
    const int rc = SSL_connect(ssl.get());
    if (rc == 1) break;
    const int e = SSL_get_error(ssl.get(), rc);
    const short want = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
    if (want == 0) {
      std::string why = openssl_errors();
      if (why.empty()) why = e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN
                                 ? "the server closed the connection during the handshake"
                                 : "handshake error " + std::to_string(e);
      r->handshake_error = why;
      r->us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
      *error = "TLS handshake with " + server.to_string() + " failed: " + why;
      return nullptr;
    }
    if (!wait_for(t->fd(), want, deadline)) {
      r->handshake_error = "the server did not complete the handshake in time";
      *error = "TLS handshake with " + server.to_string() + " timed out";
      return nullptr;
    }
  }
  r->us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
  r->handshake_ok = true;
  r->version = SSL_get_version(ssl.get());
  r->cipher = SSL_get_cipher_name(ssl.get());
  const unsigned char* alpn = nullptr;
  unsigned alpn_len = 0;
  SSL_get0_alpn_selected(ssl.get(), &alpn, &alpn_len);
  if (alpn) r->alpn.assign(reinterpret_cast<const char*>(alpn), alpn_len);
  describe_certificate(ssl.get(), o, r);
  r->chain_verified = log.first_error.empty() && SSL_get_verify_result(ssl.get()) == X509_V_OK;
  r->chain_error = log.first_error;
  SSL_set_app_data(ssl.get(), nullptr);
  t->set_ssl(std::move(ssl));
  return t;
}

}  // namespace turnpike::probe
