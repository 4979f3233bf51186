#include "core/address_mac.h"

#include <cstring>

#include "core/hmac.h"

namespace turnpike::core {

void address_mac(Bytes key, uint32_t stamp, const SocketAddress& client, uint8_t* out, size_t n,
                 Bytes context) {
  constexpr size_t kAddress = 4 + 1 + 16 + 2;
  constexpr size_t kMaxContext = 16;
  uint8_t msg[kAddress + kMaxContext];
  store_be32(msg, stamp);
  msg[4] = client.ip().is_v4() ? 4 : 6;
  std::memset(msg + 5, 0, 16);
  std::memcpy(msg + 5, client.ip().data(), client.ip().size());
  store_be16(msg + 21, client.port());
  const size_t extra = context.size() < kMaxContext ? context.size() : kMaxContext;
  if (extra) std::memcpy(msg + kAddress, context.data(), extra);
  uint8_t full[32];
  hmac(HashAlgorithm::Sha256, key, Bytes(msg, kAddress + extra), full);
  std::memcpy(out, full, n < sizeof full ? n : sizeof full);
}

}  // namespace turnpike::core
