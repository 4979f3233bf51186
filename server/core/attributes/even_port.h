// EVEN-PORT (RFC 8656 §18.7): one byte whose top bit R asks to reserve the next port as well.
#pragma once

#include <optional>

#include "core/bytes.h"

namespace turnpike::core {

struct EvenPort {
  bool reserve_next = false;
};

inline std::optional<EvenPort> decode_even_port(Bytes v) {
  if (v.size() != 1) return std::nullopt;
  return EvenPort{(v[0] & 0x80) != 0};
}

}  // namespace turnpike::core
