#include "core/attributes/xor_address.h"

#include <cstddef>
#include <span>

#include "core/stun_types.h"

namespace turnpike::core {

void encode_xor_address(const SocketAddress& a, const uint8_t* header, uint8_t* out) {
  const uint8_t* key = header + 4;  // magic cookie, then the transaction ID
  out[0] = 0;
  out[1] = a.ip().is_v4() ? kFamilyIpv4 : kFamilyIpv6;
  store_be16(out + 2, uint16_t(a.port() ^ (kMagicCookie >> 16)));
  const uint8_t* ip = a.ip().data();
  for (size_t i = 0; i < a.ip().size(); ++i) out[4 + i] = ip[i] ^ key[i];
}

std::optional<SocketAddress> decode_xor_address(Bytes value, const uint8_t* header) {
  if (value.size() < 4) return std::nullopt;
  const uint8_t family = value[1];
  const uint16_t port = uint16_t(load_be16(value.data() + 2) ^ (kMagicCookie >> 16));
  const uint8_t* key = header + 4;
  uint8_t ip[16];
  if (family == kFamilyIpv4 && value.size() == 8) {
    for (int i = 0; i < 4; ++i) ip[i] = value[4 + i] ^ key[i];
    return SocketAddress(IpAddress::v4(ip), port);
  }
  if (family == kFamilyIpv6 && value.size() == 20) {
    for (int i = 0; i < 16; ++i) ip[i] = value[4 + i] ^ key[i];
    return SocketAddress(IpAddress::v6(ip), port);
  }
  return std::nullopt;
}

void encode_plain_address(const SocketAddress& a, uint8_t* out) {
  out[0] = 0;
  out[1] = a.ip().is_v4() ? kFamilyIpv4 : kFamilyIpv6;
  store_be16(out + 2, a.port());
  const uint8_t* ip = a.ip().data();
  for (size_t i = 0; i < a.ip().size(); ++i) out[4 + i] = ip[i];
}

std::optional<SocketAddress> decode_plain_address(Bytes value) {
  if (value.size() < 4) return std::nullopt;
  const uint16_t port = load_be16(value.data() + 2);
  if (value[1] == kFamilyIpv4 && value.size() == 8) {
    return SocketAddress(IpAddress::v4(value.data() + 4), port);
  }
  if (value[1] == kFamilyIpv6 && value.size() == 20) {
    return SocketAddress(IpAddress::v6(value.data() + 4), port);
  }
  return std::nullopt;
}

}  // namespace turnpike::core
