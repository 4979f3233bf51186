// UNKNOWN-ATTRIBUTES (RFC 8489 §14.9): the 16-bit types a 420 response lists.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/stun_types.h"
#include "core/stun_writer.h"

namespace turnpike::core {

inline void add_unknown_attributes(StunWriter& w, const uint16_t* types, size_t n) {
  uint8_t v[2 * 16];
  if (n > 16) n = 16;
  for (size_t i = 0; i < n; ++i) store_be16(v + 2 * i, types[i]);
  w.add(attr::UnknownAttributes, Bytes(v, 2 * n));
}

}  // namespace turnpike::core
