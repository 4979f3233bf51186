#include "net/tls_context.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <vector>

#include "net/dtls_session.h"
#include "net/unique_fd.h"

namespace turnpike::net {
namespace {

constexpr size_t kMaxPemFile = 1 << 20;

std::string current_user() {
  passwd pw{};
  passwd* found = nullptr;
  char buf[1024];
  if (getpwuid_r(geteuid(), &pw, buf, sizeof buf, &found) == 0 && found) return found->pw_name;
  return "uid " + std::to_string(geteuid());
}

// Reads a whole file ourselves (rather than letting OpenSSL open it) so that a failure can say
// which file, as which user, and why: the usual trouble is a key readable only by root while
// turnpike runs as proc-user (jitsi-meet#5978, coturn #268).
bool read_pem(const char* what, const std::string& path, std::string* out, std::string* error) {
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    *error = std::string("cannot read ") + what + " " + path + " as user " + current_user() + ": " +
             std::strerror(errno);
    return false;
  }
  out->clear();
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *error = std::string("cannot read ") + what + " " + path + ": " + std::strerror(errno);
      return false;
    }
    if (n == 0) break;
    out->append(buf, size_t(n));
    if (out->size() > kMaxPemFile) {
      *error = std::string(what) + " " + path + " is larger than 1 MiB; is it really a PEM file?";
      return false;
    }
  }
  return true;
}

int no_password(char*, int, int, void*) {
  return -1;
}  // never prompt on a terminal

// RFC 7443 §4.3: "stun.turn" for TURN, "stun.nat-discovery" for STUN; RFC 7301 §3.2.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
  static const unsigned char kOurs[] = "\x09stun.turn\x12stun.nat-discovery";
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kOurs, sizeof kOurs - 1, in, inlen) ==
      OPENSSL_NPN_NEGOTIATED) {
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
  }
  // Offered, but none of ours: carry on without ALPN rather than fail (RFC 7301 §3.2 allows a
  // fatal alert; a TURN client that offers only "h2" still gets served).
  return SSL_TLSEXT_ERR_NOACK;
}

std::string describe(X509* cert, bool* expired) {
  std::string s = "subject ";
  char name[512];
  X509_NAME_oneline(X509_get_subject_name(cert), name, sizeof name);
  s += name;
  if (BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr)) {
    if (char* hex = BN_bn2hex(bn)) {
      s += ", serial ";
      s += hex;
      OPENSSL_free(hex);
    }
    BN_free(bn);
  }
  BioPtr mem(BIO_new(BIO_s_mem()));
  if (mem && ASN1_TIME_print(mem.get(), X509_get0_notAfter(cert)) == 1) {
    char* p = nullptr;
    const long n = BIO_get_mem_data(mem.get(), &p);
    s += ", valid until " + std::string(p, size_t(n));
  }
  *expired = X509_cmp_current_time(X509_get0_notAfter(cert)) < 0;
  if (*expired) s += " (EXPIRED)";
  return s;
}

struct Material {
  X509Ptr leaf;
  std::vector<X509Ptr> chain;
  PkeyPtr key;
};

bool load_material(const TlsFiles& f, Material* m, std::string* error) {
  std::string cert_pem;
  if (!read_pem("cert", f.cert, &cert_pem, error)) return false;
  const std::string& key_path = f.pkey.empty() ? f.cert : f.pkey;
  std::string key_pem;
  if (f.pkey.empty()) {
    key_pem = cert_pem;
  } else if (!read_pem("pkey", key_path, &key_pem, error)) {
    return false;
  }
  ERR_clear_error();
  BioPtr cb(BIO_new_mem_buf(cert_pem.data(), int(cert_pem.size())));
  m->leaf.reset(PEM_read_bio_X509_AUX(cb.get(), nullptr, no_password, nullptr));
  if (!m->leaf) {
    *error = "cert " + f.cert + " holds no PEM certificate: " + openssl_errors();
    return false;
  }
  while (X509* c = PEM_read_bio_X509(cb.get(), nullptr, no_password, nullptr))
    m->chain.emplace_back(c);
  // Reading stops at the end of the file with "no start line"; anything else is an error.
  const unsigned long e = ERR_peek_last_error();
  if (e && !(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)) {
    *error = "cert " + f.cert + ": a certificate after the first is damaged: " + openssl_errors();
    return false;
  }
  ERR_clear_error();
  BioPtr kb(BIO_new_mem_buf(key_pem.data(), int(key_pem.size())));
  m->key.reset(PEM_read_bio_PrivateKey(kb.get(), nullptr, no_password, nullptr));
  if (!m->key) {
    const std::string why = openssl_errors();
    *error = (f.pkey.empty() ? "cert " : "pkey ") + key_path + " holds no usable private key (" +
             why + "); encrypted keys are not supported: decrypt it with `openssl pkey -in " +
             key_path + " -out NEW.key`" + (f.pkey.empty() ? ", or set pkey=" : "");
    return false;
  }
  if (X509_check_private_key(m->leaf.get(), m->key.get()) != 1) {
    ERR_clear_error();
    *error = "pkey " + key_path + " does not belong to the certificate in cert " + f.cert +
             " (renewed one file but not the other?)";
    return false;
  }
  return true;
}

SslCtxPtr make_context(const SSL_METHOD* method, bool dtls, const TlsFiles& f, const Material& m,
                       std::string* error) {
  SslCtxPtr ctx(SSL_CTX_new(method));
  if (!ctx) {
    *error = "SSL_CTX_new: " + openssl_errors();
    return nullptr;
  }
  SSL_CTX* c = ctx.get();
  if (dtls) {
    SSL_CTX_set_min_proto_version(c, DTLS1_2_VERSION);
    // The DTLS listener sets the MTU itself; its sockets are shared, so there is nothing to query.
    SSL_CTX_set_options(c, SSL_OP_NO_QUERY_MTU);
    SSL_CTX_set_cookie_generate_cb(c, dtls_generate_cookie);
    SSL_CTX_set_cookie_verify_cb(c, dtls_verify_cookie);
  } else {
    // RFC 8996: TLS 1.0 and 1.1 are deprecated; turnpike offers 1.2 (RFC 5246) and 1.3 (RFC 8446).
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION);
    SSL_CTX_set_alpn_select_cb(c, select_alpn, nullptr);
    SSL_CTX_set_read_ahead(c, 1);
  }
  // A client-initiated renegotiation (TLS 1.2) is refused with a no_renegotiation alert: it
  // costs the server a handshake per request and has a history of attacks (RFC 5746).
  SSL_CTX_set_options(
      c, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
  // An idle connection (most of them, and every stranger's half-open handshake) holds no
  // OpenSSL record buffers: they are freed between records and allocated again on use.
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
  static const unsigned char kSessionContext[] = "turnpike";
  SSL_CTX_set_session_id_context(c, kSessionContext, sizeof kSessionContext - 1);
  if (!f.cipher_list.empty() && SSL_CTX_set_cipher_list(c, f.cipher_list.c_str()) != 1) {
    *error = "cipher-list '" + f.cipher_list + "' names no cipher OpenSSL can use (" +
             openssl_errors() + "); see `openssl ciphers -v 'LIST'`";
    return nullptr;
  }
  if (SSL_CTX_use_certificate(c, m.leaf.get()) != 1) {
    *error = "cert " + f.cert + " cannot be used: " + openssl_errors();
    return nullptr;
  }
  for (const auto& x : m.chain) {
    if (SSL_CTX_add1_chain_cert(c, x.get()) != 1) {
      *error = "cert " + f.cert + ": chain certificate cannot be used: " + openssl_errors();
      return nullptr;
    }
  }
  if (SSL_CTX_use_PrivateKey(c, m.key.get()) != 1) {
    *error = "pkey " + (f.pkey.empty() ? f.cert : f.pkey) + " cannot be used: " + openssl_errors();
    return nullptr;
  }
  return ctx;
}

}  // namespace

std::string openssl_errors() {
  std::string s;
  while (const unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!s.empty()) s += "; ";
    const char* reason = ERR_reason_error_string(e);
    s += reason ? reason : buf;
  }
  return s.empty() ? "no detail from OpenSSL" : s;
}

TlsContextsPtr load_tls_contexts(const TlsFiles& files, bool with_dtls, std::string* error) {
  if (files.cert.empty()) {
    *error = "no cert= configured";
    return nullptr;
  }
  Material m;
  if (!load_material(files, &m, error)) return nullptr;
  auto out = std::make_shared<TlsContexts>();
  out->tls = make_context(TLS_server_method(), false, files, m, error);
  if (!out->tls) return nullptr;
  if (with_dtls) {
    out->dtls = make_context(DTLS_server_method(), true, files, m, error);
    if (!out->dtls) return nullptr;
  }
  out->description = describe(m.leaf.get(), &out->expired);
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(m.leaf.get()), &tm) == 1) out->not_after_unix = timegm(&tm);
  return out;
}

}  // namespace turnpike::net
