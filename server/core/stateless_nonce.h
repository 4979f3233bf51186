// Stateless nonces (RFC 8489 §9.2; the approach of coturn's stateless-nonce): the nonce carries
// its own issue time and an HMAC over that time and the client's transport address, so the
// server stores nothing for a client before it authenticates, and a nonce issued to one address
// is useless from another.
//
//   nonce = "obMatJos2" + security-feature-set (4 base64 chars, RFC 8489 §9.2.1)
//           + base64url(issued_at[4] || HMAC-SHA256(key, issued_at || address || features)[0..8])
//
// The MAC covers the feature set too: RFC 8489 §9.2 makes those bits the bid-down protection
// for PASSWORD-ALGORITHMS ("the server MUST ... protect the security feature set"), so a nonce
// whose bits were changed is not ours (438, a fresh nonce). 29 characters: the 401 challenge,
// the largest answer before authentication, stays small (DESIGN.md "Safe by default").
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/bytes.h"
#include "core/socket_address.h"

namespace turnpike::core {

// RFC 8489 §9.2.1: the nonce cookie. Implementations disagree on the bit numbering of the
// 24-bit feature set, so "password algorithms" is set at both ends (0x800001): either reading
// sees it, and neither sees "username anonymity".
inline constexpr std::string_view kNonceCookie = "obMatJos2";
inline constexpr std::string_view kNonceFeatures = "gAAB";

bool nonce_has_password_algorithms(std::string_view nonce);

class NonceCodec {
 public:
  static constexpr size_t kKeySize = 32;
  explicit NonceCodec(const std::array<uint8_t, kKeySize>& key) : key_(key) {}
  // For the hand-over to a new process (core/handover_state.h), so its nonces stay valid.
  const std::array<uint8_t, kKeySize>& key() const { return key_; }

  std::string issue(const SocketAddress& client, int64_t now_unix) const;

  enum class Check : uint8_t { Valid, Stale, Invalid };
  // Invalid: not one of ours, or issued to another address. Stale: older than `lifetime_s`
  // (or from the future, beyond a little clock slack).
  Check check(std::string_view nonce, const SocketAddress& client, int64_t now_unix,
              int64_t lifetime_s) const;

 private:
  static constexpr size_t kMacSize = 8;
  void mac(uint32_t issued_at, std::string_view features, const SocketAddress& client,
           uint8_t out[kMacSize]) const;
  std::array<uint8_t, kKeySize> key_;
};

}  // namespace turnpike::core
