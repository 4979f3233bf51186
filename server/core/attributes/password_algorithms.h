// PASSWORD-ALGORITHMS (RFC 8489 §14.11) and PASSWORD-ALGORITHM (§14.12). Algorithm numbers are
// from §18.5: 0x0001 MD5, 0x0002 SHA-256; neither has parameters.
#pragma once

#include <cstdint>
#include <optional>

#include "core/bytes.h"
#include "core/hmac.h"

namespace turnpike::core {

constexpr uint16_t kPasswordAlgorithmMd5 = 0x0001;
constexpr uint16_t kPasswordAlgorithmSha256 = 0x0002;

// The value the server sends (and expects echoed back verbatim, §9.2.4): MD5 then SHA-256.
inline constexpr uint8_t kPasswordAlgorithmsValue[8] = {0x00, 0x01, 0x00, 0x00,
                                                        0x00, 0x02, 0x00, 0x00};

// Decodes PASSWORD-ALGORITHM; std::nullopt for an unknown algorithm or a malformed value.
inline std::optional<HashAlgorithm> decode_password_algorithm(Bytes v) {
  if (v.size() < 4) return std::nullopt;
  const uint16_t alg = load_be16(v.data());
  const uint16_t params = load_be16(v.data() + 2);
  if (params != 0 || v.size() != 4) return std::nullopt;
  if (alg == kPasswordAlgorithmMd5) return HashAlgorithm::Md5;
  if (alg == kPasswordAlgorithmSha256) return HashAlgorithm::Sha256;
  return std::nullopt;
}

}  // namespace turnpike::core
