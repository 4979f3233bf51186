// Randomness. Process-wide: unpredictable bytes from OpenSSL's CSPRNG (nonce keys, reservation
// tokens, relay port choice, secrets; coturn's CVE-2025-69217 came from a predictable generator).
// Passed in: core::Random, so that a layer that must not reach for the world (relay) takes its
// randomness like its time, and tests and fuzzers run it deterministically with SeededRandom.
#pragma once

#include <cstddef>
#include <cstdint>

namespace turnpike::core {

void random_bytes(uint8_t* out, size_t n);
uint64_t random_u64();

class Random {
 public:
  virtual ~Random() = default;
  virtual void fill(uint8_t* out, size_t n) = 0;
  uint64_t next_u64() {
    uint64_t v;
    fill(reinterpret_cast<uint8_t*>(&v), sizeof v);
    return v;
  }
};

// The CSPRNG above, as a Random: what the daemon passes in.
class SystemRandom final : public Random {
 public:
  void fill(uint8_t* out, size_t n) override { random_bytes(out, n); }
};
SystemRandom& system_random();

// A deterministic sequence (splitmix64) from `seed`: tests, fuzzers and benchmarks only. Never
// for anything a stranger must not predict.
class SeededRandom final : public Random {
 public:
  explicit SeededRandom(uint64_t seed) : state_(seed) {}
  void fill(uint8_t* out, size_t n) override;

 private:
  uint64_t state_;
};

}  // namespace turnpike::core
