// RESERVATION-TOKEN (RFC 8656 §18.10): 8 opaque bytes naming a reserved relay port.
#pragma once

#include <cstdint>
#include <optional>

#include "core/bytes.h"

namespace turnpike::core {

inline std::optional<uint64_t> decode_reservation_token(Bytes v) {
  if (v.size() != 8) return std::nullopt;
  return load_be64(v.data());
}

}  // namespace turnpike::core
