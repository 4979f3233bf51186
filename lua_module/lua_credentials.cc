// turnpike.mint and turnpike.password: TURN REST API credentials (draft-uberti-behave-turn-rest-00
// §2.2) from a secret the caller holds, e.g. mod_external_services' external_service_secret.
#include <cstdint>
#include <ctime>
#include <exception>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>

#include "core/attributes/text.h"
#include "core/text_escape.h"
#include "lua_module/lua_bindings.h"
#include "lua_module/lua_support.h"

namespace turnpike::lua {
namespace {

struct CredentialBox {
  core::RestCredential credential;
};

struct StringBox {
  std::string value;
};

}  // namespace

core::RestCredential mint_checked(std::string_view secret, std::string_view user, int64_t ttl,
                                  int64_t now, char separator) {
  if (secret.empty())
    throw std::invalid_argument("turnpike: the secret is empty; nothing to sign with");
  if (ttl < 1) throw std::invalid_argument("turnpike: the TTL must be at least 1 second");
  if (ttl > int64_t(10) * 365 * 86400) {
    throw std::invalid_argument("turnpike: the TTL " + std::to_string(ttl) +
                                " s is longer than ten years");
  }
  // The username starts with the expiry in decimal, which the relay reads as at most 18 digits
  // and no sign (core::parse_rest_username): a clock before 1970 or an expiry past the year 9999
  // would give a credential no relay accepts, and now + ttl could overflow. Found by fuzzing
  // (tests/fuzz/corpus/lua_module/regression_clock_out_of_range).
  constexpr int64_t kLatestExpiry = 253'402'300'799;  // 9999-12-31T23:59:59Z
  if (now < 0 || now > kLatestExpiry - ttl) {
    throw std::invalid_argument("turnpike: the time " + std::to_string(now) +
                                " is not a unix time between 1970 and 9999 (leave `now` out to use "
                                "the clock)");
  }
  // RFC 8489 §14.3: the relay answers 400 to a USERNAME that is not UTF-8 text without control
  // or invisible characters, so such a credential would be useless.
  if (user.size() <= core::kMaxUsernameBytes &&
      !core::is_valid_text(user, core::kMaxUsernameBytes)) {
    throw std::invalid_argument("turnpike: the user name '" + core::escape_text(user) +
                                "' holds a NUL, control or invisible character, or is not UTF-8 "
                                "(RFC 8489 §14.3: the relay would refuse it)");
  }
  core::RestCredential c = core::mint_rest_credential(secret, user, now, ttl, separator);
  if (c.username.size() > core::kMaxUsernameBytes) {
    throw std::invalid_argument("turnpike: the user name is " + std::to_string(user.size()) +
                                " bytes; a TURN username must stay under 509 bytes (RFC 8489 "
                                "§14.3): pass a shorter one, or none");
  }
  return c;
}

void push_credential(lua_State* L, const core::RestCredential& c) {
  lua_createtable(L, 0, 3);
  set_string(L, "username", c.username);
  set_string(L, "password", c.password);
  set_integer(L, "expires", c.expires);
}

int64_t optional_now(lua_State* L, int arg) {
  if (lua_isnoneornil(L, arg)) return int64_t(std::time(nullptr));
  return int64_t(luaL_checkinteger(L, arg));
}

int l_mint(lua_State* L) {
  size_t secret_len = 0, user_len = 0;
  const char* secret = luaL_checklstring(L, 1, &secret_len);
  const char* user = luaL_optlstring(L, 2, "", &user_len);
  const lua_Integer ttl = luaL_checkinteger(L, 3);
  const int64_t now = optional_now(L, 4);
  CredentialBox* box = push_box<CredentialBox>(L, "turnpike.credential_box");
  ErrorText err;
  if (!run_guarded(err, [&] {
        box->credential = mint_checked({secret, secret_len}, {user, user_len}, ttl, now, ':');
      })) {
    return raise(L, err);
  }
  push_credential(L, box->credential);
  return 1;
}

int l_password(lua_State* L) {
  size_t secret_len = 0, username_len = 0;
  const char* secret = luaL_checklstring(L, 1, &secret_len);
  const char* username = luaL_checklstring(L, 2, &username_len);
  if (secret_len == 0) return luaL_argerror(L, 1, "the secret is empty; nothing to sign with");
  StringBox* box = push_box<StringBox>(L, "turnpike.string_box");
  ErrorText err;
  if (!run_guarded(err, [&] {
        box->value = core::rest_password({secret, secret_len}, {username, username_len});
      })) {
    return raise(L, err);
  }
  lua_pushlstring(L, box->value.data(), box->value.size());
  return 1;
}

}  // namespace turnpike::lua
