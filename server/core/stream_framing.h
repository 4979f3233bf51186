// Finding message boundaries in a TCP or TLS byte stream (RFC 8656 §12.5, RFC 8489 §6.2.2).
// STUN messages carry their own length; ChannelData messages are padded to a multiple of four
// bytes over streams. All arithmetic is 32-bit so that a 0xFFFF length cannot wrap (coturn's
// CVE-2026-40613 truncated 4 + 0xFFFF to 16 bits).
#pragma once

#include <cstdint>
#include <optional>

#include "core/bytes.h"

namespace turnpike::core {

enum class FrameKind : uint8_t { Stun, ChannelData, Invalid };

struct Frame {
  FrameKind kind = FrameKind::Invalid;
  uint32_t size = 0;  // total bytes the frame occupies in the stream, padding included
};

// Looks at the first bytes of `buffered`. std::nullopt when fewer than 4 bytes are there yet.
// FrameKind::Invalid means the stream cannot be STUN/TURN (first bits 10 or 11): close it.
std::optional<Frame> next_frame(Bytes buffered);

}  // namespace turnpike::core
