// FINGERPRINT (RFC 8489 §14.7): CRC-32 of the message up to the attribute, XOR 0x5354554E.
#pragma once

#include <cstdint>

#include "core/bytes.h"

namespace turnpike::core {

constexpr uint32_t kFingerprintXor = 0x5354554E;

// CRC-32 as in ISO/IEC 13239 / zlib (reflected polynomial 0xEDB88320).
uint32_t crc32(Bytes data, uint32_t crc = 0);

}  // namespace turnpike::core
