// Unpredictable bytes from OpenSSL's CSPRNG: nonce keys, reservation tokens, relay port choice,
// secrets. (coturn's CVE-2025-69217 came from a predictable generator.)
#pragma once

#include <cstddef>
#include <cstdint>

namespace turnpike::core {

void random_bytes(uint8_t* out, size_t n);
uint64_t random_u64();

}  // namespace turnpike::core
