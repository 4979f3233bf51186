#include "core/rest_credentials.h"

#include <cstddef>

#include "core/base64.h"
#include "core/hmac.h"

namespace turnpike::core {
namespace {

std::optional<int64_t> parse_timestamp(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

}  // namespace

std::optional<RestUsername> parse_rest_username(std::string_view username, char separator) {
  const size_t first = username.find(separator);
  if (first == std::string_view::npos) {
    auto ts = parse_timestamp(username);
    if (!ts) return std::nullopt;
    return RestUsername{*ts, {}};
  }
  // "<expiry>:<user>": the user part may itself contain the separator.
  if (auto ts = parse_timestamp(username.substr(0, first))) {
    return RestUsername{*ts, username.substr(first + 1)};
  }
  // "<user>:<expiry>" (coturn reads the timestamp after the separator when the part before it
  // is not a number).
  const size_t last = username.rfind(separator);
  if (auto ts = parse_timestamp(username.substr(last + 1))) {
    return RestUsername{*ts, username.substr(0, last)};
  }
  return std::nullopt;
}

std::string_view rest_user_key(std::string_view username, char separator) {
  const auto rest = parse_rest_username(username, separator);
  return rest && !rest->user.empty() ? rest->user : username;
}

RestUsernameCheck check_rest_username(std::string_view username, char separator, int64_t now_unix,
                                      int64_t max_ttl) {
  using Status = RestUsernameCheck::Status;
  const auto rest = parse_rest_username(username, separator);
  if (!rest) return {Status::NotRest, 0};
  if (rest->expiry < now_unix) return {Status::Expired, now_unix - rest->expiry};
  if (max_ttl > 0 && rest->expiry - now_unix > max_ttl) {
    return {Status::TooFarAhead, rest->expiry - now_unix};
  }
  return {Status::Ok, 0};
}

std::string rest_password(std::string_view secret, std::string_view username) {
  uint8_t mac[20];
  hmac(HashAlgorithm::Sha1, Bytes(reinterpret_cast<const uint8_t*>(secret.data()), secret.size()),
       Bytes(reinterpret_cast<const uint8_t*>(username.data()), username.size()), mac);
  return base64_encode(Bytes(mac, sizeof mac));
}

RestCredential mint_rest_credential(std::string_view secret, std::string_view user,
                                    int64_t now_unix, int64_t ttl_seconds, char separator) {
  RestCredential c;
  c.expires = now_unix + ttl_seconds;
  c.username = std::to_string(c.expires);
  if (!user.empty()) {
    c.username += separator;
    c.username += user;
  }
  c.password = rest_password(secret, c.username);
  return c;
}

}  // namespace turnpike::core
