// Splits an arbitrary byte stream into frames as the TCP/TLS reader does, and parses each one.
#include <cstddef>
#include <cstdint>
#include <optional>

#include "core/channel_data.h"
#include "core/stream_framing.h"
#include "core/stun_message.h"

using namespace turnpike::core;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  size_t pos = 0;
  while (pos < size) {
    auto f = next_frame(Bytes(data + pos, size - pos));
    if (!f || f->kind == FrameKind::Invalid) break;
    if (f->size > size - pos) break;  // wait for more bytes
    const Bytes frame(data + pos, f->size);
    if (f->kind == FrameKind::Stun) {
      (void)StunMessage::parse(frame);
    } else {
      (void)parse_channel_data(frame);
    }
    pos += f->size;
  }
  (void)parse_channel_data(Bytes(data, size));
  return 0;
}
