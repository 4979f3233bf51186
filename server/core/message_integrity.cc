#include "core/message_integrity.h"

#include <cstdint>
#include <cstring>
#include <optional>

#include "core/constant_time.h"
#include "core/hmac.h"

namespace turnpike::core {
namespace {

bool verify(const StunMessage& m, const Attribute& mi, HashAlgorithm a, Bytes key) {
  // The MAC covers the header, with the length field rewritten to end just after the integrity
  // attribute, and every attribute before it (RFC 8489 §14.5).
  const uint8_t* p = m.bytes().data();
  const uint32_t attr_start = mi.offset - 4;
  uint8_t header[kHeaderSize];
  std::memcpy(header, p, kHeaderSize);
  store_be16(header + 2, uint16_t(mi.offset + mi.length - kHeaderSize));

  Hmac h(a, key);
  h.update(Bytes(header, kHeaderSize));
  h.update(Bytes(p + kHeaderSize, attr_start - kHeaderSize));
  uint8_t mac[kMaxDigestSize];
  h.finish(mac);
  // RFC 8489 §14.6: a truncated SHA-256 MAC compares its first `length` bytes.
  const size_t n = a == HashAlgorithm::Sha1 ? 20 : mi.length;
  return constant_time_equal(mac, p + mi.offset, n);
}

}  // namespace

bool verify_message_integrity(const StunMessage& m, Bytes key) {
  const auto& mi = m.message_integrity();
  return mi && verify(m, *mi, HashAlgorithm::Sha1, key);
}

bool verify_message_integrity_sha256(const StunMessage& m, Bytes key) {
  const auto& mi = m.message_integrity_sha256();
  return mi && verify(m, *mi, HashAlgorithm::Sha256, key);
}

}  // namespace turnpike::core
