// Base64 (RFC 4648 §4, with padding) as used by the TURN REST API password.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/bytes.h"

namespace turnpike::core {

std::string base64_encode(Bytes data);
// Strict decoding: padding required, no whitespace. std::nullopt on malformed input.
std::optional<std::string> base64_decode(std::string_view text);

// The URL-safe alphabet (RFC 4648 §5) without padding, for tokens that travel in STUN strings.
std::string base64url_encode(Bytes data);
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace turnpike::core
