#include "core/dtls_cookie.h"

#include "core/constant_time.h"
#include "core/hmac.h"

namespace turnpike::core {
namespace {

constexpr int64_t kSlotSeconds = 60;

}  // namespace

void DtlsCookie::mac(uint8_t slot, const SocketAddress& client, uint8_t* out) const {
  uint8_t port[2];
  store_be16(port, client.port());
  const uint8_t family = uint8_t(client.family());
  Hmac h(HashAlgorithm::Sha256, Bytes(key_.data(), key_.size()));
  h.update(Bytes(&slot, 1));
  h.update(Bytes(&family, 1));
  h.update(Bytes(client.ip().data(), client.ip().size()));
  h.update(Bytes(port, 2));
  uint8_t full[kMaxDigestSize];
  h.finish(full);
  for (size_t i = 0; i < kSize - 1; ++i) out[i] = full[i];
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
