// Digests and HMACs through OpenSSL's EVP interfaces (MD5 and SHA-1 only where the RFCs require
// them: the long-term key, MESSAGE-INTEGRITY and the TURN REST password).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>

#include "core/bytes.h"

typedef struct evp_mac_ctx_st EVP_MAC_CTX;

namespace turnpike::core {

enum class HashAlgorithm : uint8_t { Md5, Sha1, Sha256 };

constexpr size_t digest_size(HashAlgorithm a) {
  return a == HashAlgorithm::Md5 ? 16 : a == HashAlgorithm::Sha1 ? 20 : 32;
}
constexpr size_t kMaxDigestSize = 32;

// Hashes the concatenation of `parts` into `out` (digest_size(a) bytes).
void digest(HashAlgorithm a, std::initializer_list<Bytes> parts, uint8_t* out);

// Incremental HMAC. One object per computation; RAII over EVP_MAC_CTX.
class Hmac {
 public:
  Hmac(HashAlgorithm a, Bytes key);
  ~Hmac();
  Hmac(const Hmac&) = delete;
  Hmac& operator=(const Hmac&) = delete;

  void update(Bytes data);
  // Writes digest_size(a) bytes to `out`.
  void finish(uint8_t* out);

 private:
  EVP_MAC_CTX* ctx_;
  HashAlgorithm algorithm_;
};

// One-shot HMAC of a contiguous message.
void hmac(HashAlgorithm a, Bytes key, Bytes message, uint8_t* out);

}  // namespace turnpike::core
