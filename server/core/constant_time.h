// Comparison of secrets (MACs, keys, nonces) in time that does not depend on where they differ.
#pragma once

#include <cstddef>
#include <cstdint>

namespace turnpike::core {

// True when the `n` bytes at `a` and `b` are equal. Runs in time depending only on `n`.
bool constant_time_equal(const uint8_t* a, const uint8_t* b, size_t n);

}  // namespace turnpike::core
