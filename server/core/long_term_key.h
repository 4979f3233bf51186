// The long-term credential key (RFC 8489 §9.2.2):
//   MD5:     key = MD5(username ":" OpaqueString(realm) ":" OpaqueString(password))
//   SHA-256: key = SHA-256(username ":" OpaqueString(realm) ":" OpaqueString(password))
// and USERHASH (§14.4) = SHA-256(OpaqueString(username) ":" OpaqueString(realm)).
// The strings are used as given: realms and passwords here come from configuration and REST
// HMACs (ASCII), so OpaqueString/SASLprep processing is the identity for them.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "core/bytes.h"
#include "core/hmac.h"

namespace turnpike::core {

struct LongTermKey {
  HashAlgorithm algorithm = HashAlgorithm::Md5;
  std::array<uint8_t, 32> bytes{};
  Bytes view() const { return Bytes(bytes.data(), digest_size(algorithm)); }
};

LongTermKey long_term_key(HashAlgorithm a, std::string_view username, std::string_view realm,
                          std::string_view password);

std::array<uint8_t, 32> userhash(std::string_view username, std::string_view realm);

}  // namespace turnpike::core
