// Time-limited credentials of the "TURN REST API" (draft-uberti-behave-turn-rest-00), exactly as
// coturn's use-auth-secret and Prosody's mod_external_services compute them:
//   username = "<unix-expiry>" or "<unix-expiry>:<user>" (coturn also accepts "<user>:<expiry>")
//   password = base64(HMAC-SHA1(secret, username))
// This is the single implementation: the relay verifies with it, turnpike-admin and the Lua
// module mint with it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace turnpike::core {

struct RestUsername {
  int64_t expiry = 0;     // unix seconds
  std::string_view user;  // may be empty
};

// Accepts "<digits>", "<digits><sep><user>" and "<user><sep><digits>" (the timestamp is the
// part that is all digits, as coturn decides). Rejects anything else, including timestamps
// with more than 18 digits, so no overflow can turn an expiry into the past or the future.
std::optional<RestUsername> parse_rest_username(std::string_view username, char separator = ':');

// Whose credential a username is: the one formula for everything that counts or finds a person
// rather than one credential (RFC 8656 §7.2's per-user quota, revocation, the ledger's top
// users). The user part of either REST form ("<expiry>:alice", "alice:<expiry>") is "alice"; a
// username with no user part ("<expiry>" alone, as mod_turnpike mints with turnpike_username =
// false) or that is not a REST username at all (a static user) stands for itself, so that
// anonymous credentials never share one quota.
std::string_view rest_user_key(std::string_view username, char separator = ':');

// The checks on a REST username before any password is tried, shared by the relay and the Lua
// module's verify(): it must parse; it must not have expired (coturn accepts while
// expiry >= now); it must not expire more than `max_ttl` seconds ahead (0: no cap).
struct RestUsernameCheck {
  enum class Status { Ok, NotRest, Expired, TooFarAhead } status = Status::NotRest;
  int64_t seconds = 0;  // Expired: how long ago; TooFarAhead: how far ahead
};
RestUsernameCheck check_rest_username(std::string_view username, char separator, int64_t now_unix,
                                      int64_t max_ttl);

std::string rest_password(std::string_view secret, std::string_view username);

struct RestCredential {
  std::string username;
  std::string password;
  int64_t expires = 0;  // unix seconds
};

// The username is "<now + ttl>" or "<now + ttl><sep><user>" when `user` is not empty.
RestCredential mint_rest_credential(std::string_view secret, std::string_view user,
                                    int64_t now_unix, int64_t ttl_seconds, char separator = ':');

}  // namespace turnpike::core
