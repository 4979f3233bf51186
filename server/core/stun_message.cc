#include "core/stun_message.h"

#include "core/fingerprint.h"

namespace turnpike::core {

std::optional<StunMessage> StunMessage::parse(Bytes data, ParseStatus* status) {
  auto fail = [status](ParseStatus s) -> std::optional<StunMessage> {
    if (status) *status = s;
    return std::nullopt;
  };
  // RFC 8489 §6.3: header checks. A message that fails them is silently discarded.
  if (data.size() < kHeaderSize) return fail(ParseStatus::TooShort);
  const uint8_t* p = data.data();
  if ((p[0] & 0xC0) != 0) return fail(ParseStatus::NotStun);
  if (load_be32(p + 4) != kMagicCookie) return fail(ParseStatus::NotStun);
  const uint32_t length = load_be16(p + 2);
  if (length % 4 != 0) return fail(ParseStatus::BadLength);
  if (uint64_t(kHeaderSize) + length > data.size()) return fail(ParseStatus::TooShort);

  StunMessage m;
  m.data_ = p;
  m.size_ = kHeaderSize + length;
  m.counted_end_ = m.size_;

  // Walk every attribute once; all later accessors rely on this validation.
  uint32_t pos = kHeaderSize;
  bool after_integrity = false;
  while (pos < m.size_) {
    if (m.size_ - pos < 4) return fail(ParseStatus::BadAttribute);
    const uint16_t type = load_be16(p + pos);
    const uint32_t len = load_be16(p + pos + 2);
    const uint32_t span = 4 + padded4(len);  // 32-bit: a 0xFFFF length cannot wrap
    if (span > m.size_ - pos) return fail(ParseStatus::BadAttribute);
    if (m.has_fingerprint_) return fail(ParseStatus::BadFingerprint);  // must be the last one

    const Attribute a{type, uint16_t(len), pos + 4};
    if (type == attr::Fingerprint) {
      // RFC 8489 §14.7: CRC-32 over the message up to this attribute, XOR 0x5354554E.
      if (len != 4) return fail(ParseStatus::BadAttribute);
      const uint32_t expected = crc32(Bytes(p, pos)) ^ kFingerprintXor;
      if (load_be32(p + pos + 4) != expected) return fail(ParseStatus::BadFingerprint);
      m.has_fingerprint_ = true;
      if (!after_integrity) m.counted_end_ = pos;
    } else if (type == attr::MessageIntegrity && !after_integrity) {
      // RFC 8489 §14.5: HMAC-SHA1, always 20 bytes.
      if (len != 20) return fail(ParseStatus::BadAttribute);
      m.integrity_ = a;
      m.counted_end_ = pos;
      after_integrity = true;
    } else if (type == attr::MessageIntegritySha256 && !m.integrity_sha256_) {
      // RFC 8489 §14.6: 16 to 32 bytes, a multiple of four. After it only FINGERPRINT counts.
      if (len < 16 || len > 32 || len % 4 != 0) return fail(ParseStatus::BadAttribute);
      m.integrity_sha256_ = a;
      if (!after_integrity) m.counted_end_ = pos;
      after_integrity = true;
    }
    // Anything else after an integrity attribute is ignored (RFC 8489 §14.5, §14.6).
    pos += span;
  }
  if (status) *status = ParseStatus::Ok;
  return m;
}

std::optional<Attribute> StunMessage::find(uint16_t type) const {
  uint32_t pos = kHeaderSize;
  while (pos < counted_end_) {
    const uint16_t t = load_be16(data_ + pos);
    const uint16_t len = load_be16(data_ + pos + 2);
    if (t == type) return Attribute{t, len, pos + 4};
    pos += 4 + padded4(len);
  }
  return std::nullopt;
}

bool is_known_attribute(uint16_t type) {
  switch (type) {
    case attr::MappedAddress:
    case attr::Username:
    case attr::MessageIntegrity:
    case attr::ErrorCode:
    case attr::UnknownAttributes:
    case attr::ChannelNumber:
    case attr::Lifetime:
    case attr::XorPeerAddress:
    case attr::Data:
    case attr::Realm:
    case attr::Nonce:
    case attr::XorRelayedAddress:
    case attr::RequestedAddressFamily:
    case attr::EvenPort:
    case attr::RequestedTransport:
    case attr::DontFragment:
    case attr::MessageIntegritySha256:
    case attr::PasswordAlgorithm:
    case attr::Userhash:
    case attr::XorMappedAddress:
    case attr::ReservationToken:
    case attr::Priority:
    case attr::UseCandidate:
    case attr::ConnectionId:
      return true;
    default:
      return !attr::comprehension_required(type);
  }
}

size_t StunMessage::unknown_comprehension_required(uint16_t* out, size_t max) const {
  size_t n = 0;
  for_each([&](const Attribute& a) {
    if (!is_known_attribute(a.type) && n < max) {
      for (size_t i = 0; i < n; ++i) {
        if (out[i] == a.type) return;
      }
      out[n++] = a.type;
    }
  });
  return n;
}

}  // namespace turnpike::core
