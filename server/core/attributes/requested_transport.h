// REQUESTED-TRANSPORT (RFC 8656 §18.8): an IANA protocol number and 24 RFFU bits.
#pragma once

#include <cstdint>
#include <optional>

#include "core/bytes.h"

namespace turnpike::core {

inline std::optional<uint8_t> decode_requested_transport(Bytes v) {
  if (v.size() != 4) return std::nullopt;
  return v[0];
}

inline void encode_requested_transport(uint8_t protocol, uint8_t out[4]) {
  out[0] = protocol;
  out[1] = out[2] = out[3] = 0;
}

}  // namespace turnpike::core
