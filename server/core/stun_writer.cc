#include "core/stun_writer.h"

#include <cstring>

#include "core/attributes/xor_address.h"
#include "core/fingerprint.h"

namespace turnpike::core {

StunWriter::StunWriter(MutableBytes buffer, uint16_t type,
                       const uint8_t transaction_id[kTransactionIdSize])
    : buf_(buffer) {
  if (buf_.size() < kHeaderSize) {
    ok_ = false;
    return;
  }
  uint8_t* p = buf_.data();
  store_be16(p, type);
  store_be16(p + 2, 0);
  store_be32(p + 4, kMagicCookie);
  std::memcpy(p + 8, transaction_id, kTransactionIdSize);
  size_ = kHeaderSize;
}

void StunWriter::set_length(uint32_t attributes_length) {
  store_be16(buf_.data() + 2, uint16_t(attributes_length));
}

uint8_t* StunWriter::reserve(uint16_t type, uint32_t length) {
  const uint32_t span = 4 + padded4(length);
  if (!ok_ || length > 0xFFFF || span > buf_.size() - size_ ||
      size_ + span - kHeaderSize > 0xFFFF) {
    ok_ = false;
    return nullptr;
  }
  uint8_t* p = buf_.data() + size_;
  store_be16(p, type);
  store_be16(p + 2, uint16_t(length));
  std::memset(p + 4 + length, 0, padded4(length) - length);  // zero padding
  size_ += span;
  set_length(size_ - kHeaderSize);
  return p + 4;
}

void StunWriter::add(uint16_t type, Bytes value) {
  if (uint8_t* v = reserve(type, uint32_t(value.size()))) {
    if (!value.empty()) std::memcpy(v, value.data(), value.size());
  }
}

void StunWriter::add_text(uint16_t type, std::string_view text) {
  add(type, Bytes(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

void StunWriter::add_u32(uint16_t type, uint32_t v) {
  if (uint8_t* p = reserve(type, 4)) store_be32(p, v);
}

void StunWriter::add_xor_address(uint16_t type, const SocketAddress& a) {
  const uint32_t len = a.ip().is_v4() ? 8 : 20;
  if (uint8_t* p = reserve(type, len)) encode_xor_address(a, buf_.data(), p);
}

void StunWriter::add_error_code(uint16_t code, std::string_view reason) {
  // RFC 8489 §14.8: 21 reserved bits, 3-bit class (hundreds), 8-bit number (code % 100).
  if (reason.size() > 763) reason = reason.substr(0, 763);
  if (uint8_t* p = reserve(attr::ErrorCode, uint32_t(4 + reason.size()))) {
    p[0] = 0;
    p[1] = 0;
    p[2] = uint8_t(code / 100);
    p[3] = uint8_t(code % 100);
    std::memcpy(p + 4, reason.data(), reason.size());
  }
}

void StunWriter::add_integrity(HashAlgorithm a, uint16_t type, Bytes key) {
  // RFC 8489 §14.5: the length field already counts the integrity attribute while hashing.
  const uint32_t mac_len = uint32_t(digest_size(a));
  const uint32_t before = size_;
  if (!ok_ || 4 + mac_len > buf_.size() - size_) {
    ok_ = false;
    return;
  }
  set_length(before + 4 + mac_len - kHeaderSize);
  uint8_t mac[kMaxDigestSize];
  hmac(a, key, Bytes(buf_.data(), before), mac);
  if (uint8_t* v = reserve(type, mac_len)) std::memcpy(v, mac, mac_len);
}

void StunWriter::add_message_integrity(Bytes key) {
  add_integrity(HashAlgorithm::Sha1, attr::MessageIntegrity, key);
}

void StunWriter::add_message_integrity_sha256(Bytes key) {
  add_integrity(HashAlgorithm::Sha256, attr::MessageIntegritySha256, key);
}

void StunWriter::add_fingerprint() {
  const uint32_t before = size_;
  if (!ok_ || 8 > buf_.size() - size_) {
    ok_ = false;
    return;
  }
  set_length(before + 8 - kHeaderSize);
  const uint32_t crc = crc32(Bytes(buf_.data(), before)) ^ kFingerprintXor;
  add_u32(attr::Fingerprint, crc);
}

}  // namespace turnpike::core
