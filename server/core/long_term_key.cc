#include "core/long_term_key.h"

namespace turnpike::core {
namespace {
Bytes as_bytes(std::string_view s) {
  return Bytes(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}
const uint8_t kColon[1] = {':'};
}  // namespace

LongTermKey long_term_key(HashAlgorithm a, std::string_view username, std::string_view realm,
                          std::string_view password) {
  LongTermKey k;
  k.algorithm = a;
  digest(
      a,
      {as_bytes(username), Bytes(kColon, 1), as_bytes(realm), Bytes(kColon, 1), as_bytes(password)},
      k.bytes.data());
  return k;
}

std::array<uint8_t, 32> userhash(std::string_view username, std::string_view realm) {
  std::array<uint8_t, 32> out{};
  digest(HashAlgorithm::Sha256, {as_bytes(username), Bytes(kColon, 1), as_bytes(realm)},
         out.data());
  return out;
}

}  // namespace turnpike::core
