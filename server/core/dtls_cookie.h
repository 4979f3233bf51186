// The stateless DTLS cookie (RFC 6347 §4.2.1): the server answers a ClientHello with a
// HelloVerifyRequest carrying a cookie it can recompute, and creates state only for a client
// that returns it, so a spoofed source address costs the server nothing but one small answer.
//
//   cookie = slot[1] || HMAC-SHA256(secret, slot || client ip || client port)[0..16]
//
// The secret is random per process; `slot` is the minute of issue (low byte), and a cookie of
// this or the previous minute is accepted.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "core/bytes.h"
#include "core/socket_address.h"

namespace turnpike::core {

class DtlsCookie {
 public:
  static constexpr size_t kSize = 17;
  static constexpr size_t kKeySize = 32;
  explicit DtlsCookie(const std::array<uint8_t, kKeySize>& key) : key_(key) {}

  // Writes kSize bytes to `out`.
  void make(const SocketAddress& client, int64_t now_unix, uint8_t* out) const;
  bool verify(Bytes cookie, const SocketAddress& client, int64_t now_unix) const;

 private:
  void mac(uint8_t slot, const SocketAddress& client, uint8_t* out) const;
  std::array<uint8_t, kKeySize> key_;
};

}  // namespace turnpike::core
