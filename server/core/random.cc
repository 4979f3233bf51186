#include "core/random.h"

#include <openssl/rand.h>

#include <cstdlib>
#include <cstring>

namespace turnpike::core {

void random_bytes(uint8_t* out, size_t n) {
  if (RAND_bytes(out, int(n)) != 1) std::abort();  // never fall back to a weak generator
}

uint64_t random_u64() {
  uint64_t v;
  random_bytes(reinterpret_cast<uint8_t*>(&v), sizeof v);
  return v;
}

SystemRandom& system_random() {
  static SystemRandom r;
  return r;
}

void SeededRandom::fill(uint8_t* out, size_t n) {
  while (n) {
    // splitmix64 (Steele, Lea, Flood 2014): a full-period 64-bit sequence.
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    const size_t k = n < 8 ? n : 8;
    std::memcpy(out, &z, k);
    out += k;
    n -= k;
  }
}

}  // namespace turnpike::core
