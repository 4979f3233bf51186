#include "core/random.h"

#include <openssl/rand.h>

#include <cstdlib>

namespace turnpike::core {

void random_bytes(uint8_t* out, size_t n) {
  if (RAND_bytes(out, int(n)) != 1) std::abort();  // never fall back to a weak generator
}

uint64_t random_u64() {
  uint64_t v;
  random_bytes(reinterpret_cast<uint8_t*>(&v), sizeof v);
  return v;
}

}  // namespace turnpike::core
