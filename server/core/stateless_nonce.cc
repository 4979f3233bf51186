#include "core/stateless_nonce.h"

#include <optional>

#include "core/address_mac.h"
#include "core/base64.h"
#include "core/constant_time.h"

namespace turnpike::core {

bool nonce_has_password_algorithms(std::string_view nonce) {
  if (nonce.size() < kNonceCookie.size() + 4 ||
      nonce.substr(0, kNonceCookie.size()) != kNonceCookie) {
    return false;
  }
  auto bits = base64url_decode(nonce.substr(kNonceCookie.size(), 4));
  if (!bits) {
    bits = base64_decode(nonce.substr(kNonceCookie.size(), 4));
    if (!bits) return false;
  }
  const uint8_t hi = uint8_t((*bits)[0]);
  const uint8_t lo = uint8_t((*bits)[2]);
  return (hi & 0x80) != 0 || (lo & 0x01) != 0;
}

void NonceCodec::mac(uint32_t issued_at, std::string_view features, const SocketAddress& client,
                     uint8_t out[kMacSize]) const {
  address_mac(Bytes(key_.data(), key_.size()), issued_at, client, out, kMacSize,
              Bytes(reinterpret_cast<const uint8_t*>(features.data()), features.size()));
}

std::string NonceCodec::issue(const SocketAddress& client, int64_t now_unix) const {
  uint8_t token[4 + kMacSize];
  store_be32(token, uint32_t(now_unix));
  mac(uint32_t(now_unix), kNonceFeatures, client, token + 4);
  std::string nonce(kNonceCookie);
  nonce += kNonceFeatures;
  nonce += base64url_encode(Bytes(token, sizeof token));
  return nonce;
}

NonceCodec::Check NonceCodec::check(std::string_view nonce, const SocketAddress& client,
                                    int64_t now_unix, int64_t lifetime_s) const {
  constexpr size_t kTokenChars = (4 + kMacSize) / 3 * 4;  // 12 bytes: 16 characters, no padding
  const size_t prefix = kNonceCookie.size() + kNonceFeatures.size();
  if (nonce.size() != prefix + kTokenChars ||
      nonce.substr(0, kNonceCookie.size()) != kNonceCookie) {
    return Check::Invalid;
  }
  auto token = base64url_decode(nonce.substr(prefix));
  if (!token || token->size() != 4 + kMacSize) return Check::Invalid;
  const auto* t = reinterpret_cast<const uint8_t*>(token->data());
  const uint32_t issued_at = load_be32(t);
  uint8_t expected[kMacSize];
  // The feature set as the client sent it back: changed bits give another MAC.
  mac(issued_at, nonce.substr(kNonceCookie.size(), kNonceFeatures.size()), client, expected);
  if (!constant_time_equal(expected, t + 4, kMacSize)) return Check::Invalid;
  const int64_t age = now_unix - int64_t(issued_at);
  if (age < -5 || (lifetime_s > 0 && age > lifetime_s)) return Check::Stale;
  return Check::Valid;
}

}  // namespace turnpike::core
