// A parsed STUN message (RFC 8489 §5, §14): a validated, non-owning view of the bytes.
//
// parse() applies the header checks of RFC 8489 §6.3 (first two bits zero, magic cookie, length a
// multiple of four and within the buffer) and walks every attribute once so that nothing later
// can read past the end. It allocates nothing: lookups scan the attributes in place.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/bytes.h"
#include "core/stun_types.h"

namespace turnpike::core {

struct Attribute {
  uint16_t type = 0;
  uint16_t length = 0;  // of the value, before padding
  uint32_t offset = 0;  // of the value, from the start of the message
};

enum class ParseStatus : uint8_t {
  Ok,
  TooShort,        // fewer than 20 bytes, or the header length runs past the buffer
  NotStun,         // first two bits not zero, or no magic cookie (RFC 8489 §6.3)
  BadLength,       // length not a multiple of four
  BadAttribute,    // an attribute runs past the end, or MESSAGE-INTEGRITY has the wrong size
  BadFingerprint,  // FINGERPRINT present but wrong, or not the last attribute (RFC 8489 §14.7)
};

class StunMessage {
 public:
  // Parses the message at the start of `data`. Bytes after the message (20 + length) are not
  // part of it. Returns std::nullopt, with `status` saying why, for anything that must be dropped.
  static std::optional<StunMessage> parse(Bytes data, ParseStatus* status = nullptr);

  uint16_t type() const { return load_be16(data_); }
  Method method() const { return method_of(type()); }
  MessageClass message_class() const { return class_of(type()); }
  const uint8_t* transaction_id() const { return data_ + 8; }
  Bytes bytes() const { return Bytes(data_, size_); }
  uint32_t size() const { return size_; }

  // First occurrence of `type` among the attributes that count: those before MESSAGE-INTEGRITY
  // (RFC 8489 §14.5: later ones are ignored, except MESSAGE-INTEGRITY-SHA256 and FINGERPRINT,
  // which have their own accessors). Duplicates: the first one wins.
  std::optional<Attribute> find(uint16_t type) const;
  Bytes value(const Attribute& a) const { return Bytes(data_ + a.offset, a.length); }
  std::string_view text(const Attribute& a) const {
    return std::string_view(reinterpret_cast<const char*>(data_ + a.offset), a.length);
  }

  // Calls f(const Attribute&) for every counted attribute, in order.
  template <typename F>
  void for_each(F&& f) const {
    uint32_t pos = kHeaderSize;
    while (pos < counted_end_) {
      Attribute a{load_be16(data_ + pos), load_be16(data_ + pos + 2), pos + 4};
      f(a);
      pos += 4 + padded4(a.length);
    }
  }

  // Integrity attributes (RFC 8489 §14.5, §14.6) and FINGERPRINT (§14.7).
  const std::optional<Attribute>& message_integrity() const { return integrity_; }
  const std::optional<Attribute>& message_integrity_sha256() const { return integrity_sha256_; }
  bool has_fingerprint() const { return has_fingerprint_; }

  // Writes up to `max` comprehension-required attribute types that this implementation does not
  // understand (RFC 8489 §7.3.1: a request with any of them gets 420) and returns how many.
  size_t unknown_comprehension_required(uint16_t* out, size_t max) const;

 private:
  const uint8_t* data_ = nullptr;
  uint32_t size_ = 0;
  uint32_t counted_end_ = 0;  // attributes at or after this offset are ignored
  std::optional<Attribute> integrity_;
  std::optional<Attribute> integrity_sha256_;
  bool has_fingerprint_ = false;
};

// Whether `type` is an attribute this implementation knows (used for 420 Unknown Attribute).
bool is_known_attribute(uint16_t type);

}  // namespace turnpike::core
