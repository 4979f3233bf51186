#include "core/hmac.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <cstdlib>
#include <cstring>

namespace turnpike::core {
namespace {

// Fetching algorithm objects is the expensive part of OpenSSL 3's EVP layer; do it once.
struct Algorithms {
  EVP_MD* md5 = EVP_MD_fetch(nullptr, "MD5", nullptr);
  EVP_MD* sha1 = EVP_MD_fetch(nullptr, "SHA1", nullptr);
  EVP_MD* sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  EVP_MAC* hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);

  Algorithms() {
    if (!md5 || !sha1 || !sha256 || !hmac) {
      // Without these the server cannot authenticate anyone; there is nothing sensible to do.
      std::abort();
    }
  }
  const EVP_MD* md(HashAlgorithm a) const {
    return a == HashAlgorithm::Md5 ? md5 : a == HashAlgorithm::Sha1 ? sha1 : sha256;
  }
};

const Algorithms& algorithms() {
  static const Algorithms instance;
  return instance;
}

const char* digest_name(HashAlgorithm a) {
  return a == HashAlgorithm::Md5 ? "MD5" : a == HashAlgorithm::Sha1 ? "SHA1" : "SHA256";
}

// Setting the digest of an HMAC context by name makes OpenSSL 3 fetch the digest again (a
// locked, string-compared lookup), which cost more than the HMAC itself: about 4.8 us per
// MESSAGE-INTEGRITY against 1.8 us for re-keying a context that already has its digest. So each
// thread keeps a few ready contexts per algorithm and re-keys them (EVP_MAC_init with a key and
// no parameters restarts the computation with that key).
class MacPool {
 public:
  ~MacPool() {
    for (auto& list : free_) {
      for (unsigned i = 0; i < list.count; ++i) EVP_MAC_CTX_free(list.ctx[i]);
    }
    EVP_MD_CTX_free(md_ctx_);
  }
  EVP_MAC_CTX* take(HashAlgorithm a) {
    List& l = free_[size_t(a)];
    if (l.count) return l.ctx[--l.count];
    EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(algorithms().hmac);
    if (!ctx) std::abort();
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(digest_name(a)),
                                         0),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_MAC_CTX_set_params(ctx, params) != 1) std::abort();
    return ctx;
  }
  void give_back(HashAlgorithm a, EVP_MAC_CTX* ctx) {
    List& l = free_[size_t(a)];
    if (l.count < kKeep) {
      l.ctx[l.count++] = ctx;
    } else {
      EVP_MAC_CTX_free(ctx);
    }
  }
  // digest() is not re-entrant, so one digest context per thread does.
  EVP_MD_CTX* md_ctx() {
    if (!md_ctx_) md_ctx_ = EVP_MD_CTX_new();
    if (!md_ctx_) std::abort();
    return md_ctx_;
  }

 private:
  static constexpr unsigned kKeep = 4;  // Hmac objects alive at once on one thread, at most
  struct List {
    EVP_MAC_CTX* ctx[kKeep] = {};
    unsigned count = 0;
  };
  List free_[3];
  EVP_MD_CTX* md_ctx_ = nullptr;
};

MacPool& pool() {
  thread_local MacPool instance;
  return instance;
}

}  // namespace

void digest(HashAlgorithm a, std::initializer_list<Bytes> parts, uint8_t* out) {
  EVP_MD_CTX* ctx = pool().md_ctx();
  if (EVP_DigestInit_ex(ctx, algorithms().md(a), nullptr) != 1) std::abort();
  for (Bytes p : parts) EVP_DigestUpdate(ctx, p.data(), p.size());
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, out, &len);
}

Hmac::Hmac(HashAlgorithm a, Bytes key) : ctx_(pool().take(a)), algorithm_(a) {
  // An empty key is legal for HMAC; OpenSSL wants a non-null pointer.
  static const uint8_t kEmpty[1] = {0};
  if (EVP_MAC_init(ctx_, key.empty() ? kEmpty : key.data(), key.size(), nullptr) != 1) std::abort();
}

Hmac::~Hmac() {
  pool().give_back(algorithm_, ctx_);
}

void Hmac::update(Bytes data) {
  EVP_MAC_update(ctx_, data.data(), data.size());
}

void Hmac::finish(uint8_t* out) {
  size_t len = 0;
  EVP_MAC_final(ctx_, out, &len, digest_size(algorithm_));
}

void hmac(HashAlgorithm a, Bytes key, Bytes message, uint8_t* out) {
  Hmac h(a, key);
  h.update(message);
  h.finish(out);
}

}  // namespace turnpike::core
