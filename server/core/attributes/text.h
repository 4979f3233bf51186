// Limits on the text attributes (RFC 8489 §14.3 USERNAME < 509 bytes; §14.9 REALM and §14.10
// NONCE < 128 characters and at most 763 bytes; §14.14 SOFTWARE likewise). Values outside them,
// or with NUL bytes, are 400 Bad Request: they never reach a log line or a query.
#pragma once

#include <string_view>

namespace turnpike::core {

constexpr size_t kMaxUsernameBytes = 508;
constexpr size_t kMaxRealmBytes = 763;
constexpr size_t kMaxNonceBytes = 763;

inline bool is_valid_text(std::string_view s, size_t max_bytes) {
  if (s.size() > max_bytes) return false;
  for (char c : s) {
    if (c == '\0') return false;
  }
  return true;
}

}  // namespace turnpike::core
