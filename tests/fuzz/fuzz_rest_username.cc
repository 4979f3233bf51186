// The TURN REST username rules (core/rest_credentials.h) on arbitrary bytes: every client's
// USERNAME goes through them before any password is tried. Traps when a promise breaks:
// - parse_rest_username's user part is a piece of the input, and the expiry is what the digits say
//   (never negative: at most 18 digits, so no overflow);
// - rest_user_key is the parsed user part, or the whole username when there is none;
// - check_rest_username agrees with parse_rest_username and the clock (Ok/Expired/TooFarAhead);
// - a credential minted for a user part parses back to it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/rest_credentials.h"

using namespace turnpike::core;

namespace {

void require(bool ok) {
  if (!ok) __builtin_trap();
}

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const char separator = char(data[0]);
  const std::string_view name(reinterpret_cast<const char*>(data + 1), size - 1);
  const auto parsed = parse_rest_username(name, separator);
  if (parsed) {
    require(parsed->expiry >= 0);
    require(inside(parsed->user, name));
  }
  const std::string_view key = rest_user_key(name, separator);
  require(inside(key, name));
  if (parsed && !parsed->user.empty()) {
    require(key == parsed->user);
  } else {
    require(key == name);
  }
  constexpr int64_t kNow = 1'800'000'000;
  for (int64_t max_ttl : {int64_t(0), int64_t(86400)}) {
    const RestUsernameCheck c = check_rest_username(name, separator, kNow, max_ttl);
    if (!parsed) {
      require(c.status == RestUsernameCheck::Status::NotRest);
      continue;
    }
    if (parsed->expiry < kNow) {
      require(c.status == RestUsernameCheck::Status::Expired && c.seconds == kNow - parsed->expiry);
    } else if (max_ttl && parsed->expiry - kNow > max_ttl) {
      require(c.status == RestUsernameCheck::Status::TooFarAhead);
    } else {
      require(c.status == RestUsernameCheck::Status::Ok);
    }
  }
  // Minting for a user part gives it back (with a separator that is not a digit, which would
  // run into the timestamp, and a user part without it).
  if (parsed && !parsed->user.empty() && !(separator >= '0' && separator <= '9') &&
      parsed->user.find(separator) == std::string_view::npos) {
    const RestCredential minted = mint_rest_credential("s", parsed->user, kNow, 600, separator);
    const auto again = parse_rest_username(minted.username, separator);
    require(again && again->expiry == kNow + 600);
    require(rest_user_key(minted.username, separator) == parsed->user);
  }
  return 0;
}
