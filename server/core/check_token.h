// The check link's token (turnpike-admin check-link): the one thing that lets the check page
// get short-lived TURN credentials. Stateless until used: it carries a random id, its expiry and
// the admin's note, and a MAC with a key derived from the relay's secret, so the relay can check
// a link that turnpike-admin made without any shared state. Single use is the relay's business
// (it remembers the ids it has seen, in memory and in the ledger).
//
//   token = base64url( version 0x01 || id (9 random bytes) || expiry (uint32, unix s) ||
//                      mac (16 bytes) || note (UTF-8, at most kMaxNoteBytes) )
//   mac   = HMAC-SHA256(key, "turnpike check-link" || 0x00 || version || id || expiry || note)[0..16]
//   key   = HMAC-SHA256(secret, "turnpike check-link key v1")
//
// Deriving the key keeps the TURN secret itself out of the link's MAC, so a link never helps to
// forge TURN credentials, and rotating the secret (several static-auth-secret lines) ends old
// links only when their secret leaves the config.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace turnpike::core {

constexpr size_t kCheckIdBytes = 9;
constexpr size_t kMaxCheckNoteBytes = 200;

struct CheckToken {
  std::array<uint8_t, kCheckIdBytes> id{};
  uint32_t expires = 0;  // unix seconds
  std::string note;

  std::string id_hex() const;
};

// `id` is random bytes (core::random_bytes); `note` is cut to kMaxCheckNoteBytes, never inside a
// UTF-8 character.
std::string make_check_token(std::string_view secret, const CheckToken& t);

enum class CheckTokenStatus : uint8_t { Ok, Malformed, BadMac, Expired };
const char* check_token_status_name(CheckTokenStatus s);  // "ok", "malformed", ...

struct CheckTokenResult {
  CheckTokenStatus status = CheckTokenStatus::Malformed;
  CheckToken token;  // filled when the MAC matched (also when it expired)
};

// Tries every secret (rotation); compares the MAC in constant time; an expired token is
// reported as such only once its MAC matched.
CheckTokenResult verify_check_token(std::string_view text, const std::vector<std::string>& secrets,
                                    int64_t now_unix);

}  // namespace turnpike::core
