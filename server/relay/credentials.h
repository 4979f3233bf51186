// Who may authenticate: the realm, the TURN REST API secrets and the static long-term users.
// Immutable once built; a reload builds a new one and the workers swap their pointer.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/long_term_key.h"

namespace turnpike::relay {

struct StaticUserEntry {
  std::string password;                            // empty when only the MD5 key is known
  std::optional<std::array<uint8_t, 16>> md5_key;  // "user=name:0x..." form
};

struct Credentials {
  std::string realm = "turnpike";
  bool no_auth = false;

  // TURN REST API (coturn use-auth-secret). Newest secret first: fresh credentials verify with
  // the first HMAC; older ones keep working until they expire.
  bool rest_enabled = false;
  std::vector<std::string> secrets_newest_first;
  char separator = ':';
  int64_t max_ttl = 7 * 86400;  // 0: no cap

  std::unordered_map<std::string, StaticUserEntry> users;
  // USERHASH (RFC 8489 §14.4) -> username, for static users.
  std::unordered_map<std::string, std::string> users_by_hash;

  void add_user(std::string name, StaticUserEntry e);
};

using CredentialsPtr = std::shared_ptr<const Credentials>;

}  // namespace turnpike::relay
