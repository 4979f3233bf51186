// CONNECTION-ID (RFC 6062 §6.2.1): 32 bits naming a peer TCP connection.
#pragma once

#include <cstdint>
#include <optional>

#include "core/bytes.h"

namespace turnpike::core {

inline std::optional<uint32_t> decode_connection_id(Bytes v) {
  if (v.size() != 4) return std::nullopt;
  return load_be32(v.data());
}

}  // namespace turnpike::core
