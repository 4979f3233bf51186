// ChannelData messages (RFC 8656 §12.4): a 4-byte header (channel number, length) then the
// application data. The first two bits are 01, which tells them apart from STUN (00) on the wire.
#pragma once

#include <cstdint>
#include <optional>

#include "core/attributes/channel_number.h"
#include "core/bytes.h"

namespace turnpike::core {

constexpr uint32_t kChannelDataHeaderSize = 4;

constexpr bool looks_like_channel_data(uint8_t first_byte) {
  return (first_byte & 0xC0) == 0x40;
}

struct ChannelDataView {
  uint16_t channel = 0;
  Bytes payload;
};

// Parses one ChannelData message from a datagram. RFC 8656 §12.5: a length larger than the data
// present means the message is dropped; bytes after `length` (padding) are ignored. A channel
// number outside kMinChannel..kMaxChannel is dropped too (see channel_number.h).
std::optional<ChannelDataView> parse_channel_data(Bytes datagram);

inline void write_channel_data_header(uint8_t* out, uint16_t channel, uint16_t length) {
  store_be16(out, channel);
  store_be16(out + 2, length);
}

}  // namespace turnpike::core
