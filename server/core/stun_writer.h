// Builds a STUN message into a caller-provided buffer (RFC 8489 §5, §14). No allocation.
// Padding bytes are always zero (coturn's CVE-2020-4067 leaked memory through them).
// If the buffer is too small the writer stops writing and ok() turns false.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "core/bytes.h"
#include "core/hmac.h"
#include "core/socket_address.h"
#include "core/stun_types.h"

namespace turnpike::core {

class StunWriter {
 public:
  StunWriter(MutableBytes buffer, uint16_t type, const uint8_t transaction_id[kTransactionIdSize]);
  StunWriter(MutableBytes buffer, Method m, MessageClass c,
             const uint8_t transaction_id[kTransactionIdSize])
      : StunWriter(buffer, message_type(m, c), transaction_id) {}

  void add(uint16_t type, Bytes value);
  void add_text(uint16_t type, std::string_view text);
  void add_u32(uint16_t type, uint32_t v);
  void add_empty(uint16_t type) { add(type, Bytes()); }
  // XOR-MAPPED-ADDRESS, XOR-PEER-ADDRESS, XOR-RELAYED-ADDRESS (RFC 8489 §14.2).
  void add_xor_address(uint16_t type, const SocketAddress& a);
  // ERROR-CODE (RFC 8489 §14.8); `reason` may be empty.
  void add_error_code(uint16_t code, std::string_view reason);

  // MESSAGE-INTEGRITY (HMAC-SHA1) or MESSAGE-INTEGRITY-SHA256 over everything so far
  // (RFC 8489 §14.5, §14.6), then FINGERPRINT (§14.7). Call in this order, last.
  void add_message_integrity(Bytes key);
  void add_message_integrity_sha256(Bytes key);
  void add_fingerprint();

  bool ok() const { return ok_; }
  uint32_t size() const { return size_; }
  Bytes bytes() const { return Bytes(buf_.data(), size_); }
  uint8_t* data() { return buf_.data(); }

 private:
  uint8_t* reserve(uint16_t type, uint32_t length);  // writes the TLV header, returns value ptr
  void set_length(uint32_t attributes_length);
  void add_integrity(HashAlgorithm a, uint16_t type, Bytes key);

  MutableBytes buf_;
  uint32_t size_ = 0;
  bool ok_ = true;
};

}  // namespace turnpike::core
