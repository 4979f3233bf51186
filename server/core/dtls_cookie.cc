#include "core/dtls_cookie.h"

#include <span>

#include "core/address_mac.h"
#include "core/constant_time.h"

namespace turnpike::core {
namespace {

constexpr int64_t kSlotSeconds = 60;

}  // namespace

void DtlsCookie::mac(uint8_t slot, const SocketAddress& client, uint8_t* out) const {
  address_mac(Bytes(key_.data(), key_.size()), slot, client, out, kSize - 1);
}

void DtlsCookie::make(const SocketAddress& client, int64_t now_unix, uint8_t* out) const {
  const uint8_t slot = uint8_t(now_unix / kSlotSeconds);
  out[0] = slot;
  mac(slot, client, out + 1);
}

bool DtlsCookie::verify(Bytes cookie, const SocketAddress& client, int64_t now_unix) const {
  if (cookie.size() != kSize) return false;
  const uint8_t now_slot = uint8_t(now_unix / kSlotSeconds);
  const uint8_t slot = cookie[0];
  if (slot != now_slot && slot != uint8_t(now_slot - 1)) return false;
  uint8_t expected[kSize - 1];
  mac(slot, client, expected);
  return constant_time_equal(expected, cookie.data() + 1, kSize - 1);
}

}  // namespace turnpike::core
