// ADDRESS-ERROR-CODE (RFC 8656 §18.12): in a dual-allocation response, why one family could not
// be allocated. Family byte, 8 reserved bits, then the ERROR-CODE layout.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

#include "core/attributes/address_family.h"
#include "core/stun_writer.h"

namespace turnpike::core {

inline void add_address_error_code(StunWriter& w, Family f, uint16_t code) {
  uint8_t v[4] = {code_from_family(f), 0, uint8_t(code / 100), uint8_t(code % 100)};
  w.add(attr::AddressErrorCode, Bytes(v, 4));
}

}  // namespace turnpike::core
