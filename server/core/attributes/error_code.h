// ERROR-CODE (RFC 8489 §14.8). Encoding lives in StunWriter::add_error_code; this decodes.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/bytes.h"

namespace turnpike::core {

struct ErrorCodeValue {
  uint16_t code = 0;  // 300..699
  std::string_view reason;
};

inline std::optional<ErrorCodeValue> decode_error_code(Bytes v) {
  if (v.size() < 4) return std::nullopt;
  const unsigned cls = v[2] & 0x07;
  const unsigned number = v[3];
  if (cls < 3 || cls > 6 || number > 99) return std::nullopt;
  return ErrorCodeValue{
      uint16_t(cls * 100 + number),
      std::string_view(reinterpret_cast<const char*>(v.data() + 4), v.size() - 4)};
}

}  // namespace turnpike::core
