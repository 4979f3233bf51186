#include "core/channel_data.h"

namespace turnpike::core {

std::optional<ChannelDataView> parse_channel_data(Bytes datagram) {
  if (datagram.size() < kChannelDataHeaderSize) return std::nullopt;
  const uint16_t channel = load_be16(datagram.data());
  const uint32_t length = load_be16(datagram.data() + 2);
  if (channel < kMinChannel || channel > kMaxChannel) return std::nullopt;
  if (length > datagram.size() - kChannelDataHeaderSize) return std::nullopt;
  return ChannelDataView{channel, datagram.subspan(kChannelDataHeaderSize, length)};
}

}  // namespace turnpike::core
