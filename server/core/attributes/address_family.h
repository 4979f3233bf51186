// REQUESTED-ADDRESS-FAMILY (RFC 8656 §18.6) and ADDITIONAL-ADDRESS-FAMILY (§18.11): a family
// byte (0x01 IPv4, 0x02 IPv6) and 24 RFFU bits.
#pragma once

#include <cstdint>
#include <optional>

#include "core/bytes.h"
#include "core/ip_address.h"
#include "core/stun_types.h"

namespace turnpike::core {

// The raw family byte; the caller decides between 400 and 440 for values it does not support.
inline std::optional<uint8_t> decode_address_family(Bytes v) {
  if (v.size() != 4) return std::nullopt;
  return v[0];
}

inline std::optional<Family> family_from_code(uint8_t code) {
  if (code == kFamilyIpv4) return Family::V4;
  if (code == kFamilyIpv6) return Family::V6;
  return std::nullopt;
}

inline uint8_t code_from_family(Family f) {
  return f == Family::V4 ? kFamilyIpv4 : kFamilyIpv6;
}

inline void encode_address_family(Family f, uint8_t out[4]) {
  out[0] = code_from_family(f);
  out[1] = out[2] = out[3] = 0;
}

}  // namespace turnpike::core
