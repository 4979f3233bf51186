// Verifying MESSAGE-INTEGRITY (HMAC-SHA1, RFC 8489 §14.5) and MESSAGE-INTEGRITY-SHA256
// (HMAC-SHA256, §14.6) of a parsed message with a key (RFC 8489 §9.2.2 for long-term keys).
// Both compare in constant time.
#pragma once

#include "core/bytes.h"
#include "core/stun_message.h"

namespace turnpike::core {

// False when the message has no such attribute or the MAC does not match.
bool verify_message_integrity(const StunMessage& m, Bytes key);
bool verify_message_integrity_sha256(const StunMessage& m, Bytes key);

}  // namespace turnpike::core
