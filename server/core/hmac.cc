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

}  // namespace

void digest(HashAlgorithm a, std::initializer_list<Bytes> parts, uint8_t* out) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (!ctx || EVP_DigestInit_ex(ctx, algorithms().md(a), nullptr) != 1) std::abort();
  for (Bytes p : parts) EVP_DigestUpdate(ctx, p.data(), p.size());
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, out, &len);
  EVP_MD_CTX_free(ctx);
}

Hmac::Hmac(HashAlgorithm a, Bytes key) : ctx_(EVP_MAC_CTX_new(algorithms().hmac)), algorithm_(a) {
  if (!ctx_) std::abort();
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(digest_name(a)), 0),
      OSSL_PARAM_construct_end(),
  };
  // An empty key is legal for HMAC; OpenSSL wants a non-null pointer.
  static const uint8_t kEmpty[1] = {0};
  if (EVP_MAC_init(ctx_, key.empty() ? kEmpty : key.data(), key.size(), params) != 1) std::abort();
}

Hmac::~Hmac() { EVP_MAC_CTX_free(ctx_); }

void Hmac::update(Bytes data) { EVP_MAC_update(ctx_, data.data(), data.size()); }

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
