// CHANNEL-NUMBER (RFC 8656 §18.1): a 16-bit number followed by 16 RFFU bits.
//
// Valid channel numbers: RFC 8656 §12 narrows them to 0x4000-0x4FFF, but RFC 5766 §11 allowed
// 0x4000-0x7FFF and the clients in the field still pick from that whole range (libwebrtc's
// kMaxTurnChannelNumber is 0x7FFF, so is coturn's turnutils_uclient). Refusing 0x5000-0x7FFF
// would fail three of four Chrome channel binds, so turnpike accepts the RFC 5766 range, as
// coturn and pion do. Everything outside it (0x0000-0x3FFF, 0x8000-0xFFFF) is refused.
#pragma once

#include <cstdint>
#include <optional>

#include "core/bytes.h"

namespace turnpike::core {

constexpr uint16_t kMinChannel = 0x4000;
constexpr uint16_t kMaxChannel = 0x7FFF;

inline std::optional<uint16_t> decode_channel_number(Bytes v) {
  if (v.size() != 4) return std::nullopt;
  return load_be16(v.data());
}

inline void encode_channel_number(uint16_t channel, uint8_t out[4]) {
  store_be16(out, channel);
  store_be16(out + 2, 0);
}

}  // namespace turnpike::core
