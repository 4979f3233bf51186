// The text attributes a client sends: USERNAME (RFC 8489 §14.3), REALM (§14.9), NONCE (§14.10)
// and SOFTWARE (§14.14).
//
// §14.3: "The value of USERNAME is a variable-length value containing the authentication username.
// It MUST contain a UTF-8-encoded [RFC3629] sequence of fewer than 509 bytes and MUST have been
// processed using the OpaqueString profile [RFC8265]." REALM, NONCE and SOFTWARE: "fewer than 128
// characters (which can be as long as 509 bytes when encoding them and as long as 763 bytes when
// decoding them)"; REALM is OpaqueString too, NONCE and SOFTWARE are quoted-string/UTF-8 text.
//
// One rule for all four: valid UTF-8 within the limits, every character one that is shown as it
// is (core/utf8.h: no control, line-separator, bidirectional or other invisible character, which
// OpaqueString disallows as well). A request breaking it gets 400 Bad Request, and the value
// never reaches a log line, the ledger or a query.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/stun_types.h"
#include "core/utf8.h"

namespace turnpike::core {

constexpr size_t kMaxUsernameBytes = 508;
constexpr size_t kMaxTextBytes = 763;  // REALM, NONCE, SOFTWARE
constexpr size_t kMaxTextChars = 127;  // REALM, NONCE, SOFTWARE: fewer than 128 characters

inline bool is_valid_text(std::string_view s, size_t max_bytes, size_t max_chars = SIZE_MAX) {
  if (s.size() > max_bytes) return false;
  size_t chars = 0;
  while (!s.empty()) {
    const Utf8Char c = decode_utf8(s);
    if (c.length == 0 || !is_shown_as_is(c.code) || ++chars > max_chars) return false;
    s.remove_prefix(c.length);
  }
  return true;
}

inline bool is_valid_username(std::string_view s) {
  return is_valid_text(s, kMaxUsernameBytes);
}

// The rule for a text attribute of `type`; true for any other attribute.
inline bool is_valid_text_attribute(uint16_t type, std::string_view value) {
  switch (type) {
    case attr::Username:
      return is_valid_username(value);
    case attr::Realm:
    case attr::Nonce:
    case attr::Software:
      return is_valid_text(value, kMaxTextBytes, kMaxTextChars);
    default:
      return true;
  }
}

inline const char* text_attribute_name(uint16_t type) {
  switch (type) {
    case attr::Username:
      return "USERNAME";
    case attr::Realm:
      return "REALM";
    case attr::Nonce:
      return "NONCE";
    case attr::Software:
      return "SOFTWARE";
    default:
      return "attribute";
  }
}

}  // namespace turnpike::core
