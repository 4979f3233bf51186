#include "core/stream_framing.h"

#include <span>

#include "core/stun_types.h"

namespace turnpike::core {

std::optional<Frame> next_frame(Bytes buffered) {
  if (buffered.size() < 4) return std::nullopt;
  const uint8_t top = buffered[0] & 0xC0;
  const uint32_t length = load_be16(buffered.data() + 2);
  if (top == 0x00) return Frame{FrameKind::Stun, kHeaderSize + length};
  if (top == 0x40) return Frame{FrameKind::ChannelData, 4 + padded4(length)};
  return Frame{FrameKind::Invalid, 0};
}

}  // namespace turnpike::core
