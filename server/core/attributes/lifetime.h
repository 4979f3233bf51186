// LIFETIME (RFC 8656 §18.2): seconds remaining until expiry, 32 bits.
#pragma once

#include <cstdint>
#include <optional>

#include "core/bytes.h"

namespace turnpike::core {

inline std::optional<uint32_t> decode_lifetime(Bytes v) {
  if (v.size() != 4) return std::nullopt;
  return load_be32(v.data());
}

}  // namespace turnpike::core
