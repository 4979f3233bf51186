// The Lua functions of the module `turnpike` (see README.md for the API), grouped by the file
// that implements them. luaopen_turnpike.cc puts them together.
#pragma once

#include <lua.hpp>

#include <cstdint>
#include <string_view>

#include "core/rest_credentials.h"

namespace turnpike::lua {

// lua_credentials.cc: minting from an explicit secret.
int l_mint(
    lua_State* L);  // turnpike.mint(secret, user, ttl [, now]) -> {username, password, expires}
int l_password(lua_State* L);  // turnpike.password(secret, username) -> base64 HMAC-SHA1

// The one place the Lua module turns (secret, user, ttl, now) into credentials: the formula is
// core::mint_rest_credential; this adds the checks a caller from Lua needs. Throws
// std::invalid_argument with a message for the admin.
core::RestCredential mint_checked(std::string_view secret, std::string_view user, int64_t ttl,
                                  int64_t now, char separator);
// Pushes {username=, password=, expires=}.
void push_credential(lua_State* L, const core::RestCredential& c);
// luaL_opt for the optional `now` argument (unix seconds; default: the clock).
int64_t optional_now(lua_State* L, int arg);

// lua_config.cc: the config object.
void register_config_type(lua_State* L);
int l_load_config(lua_State* L);  // turnpike.load_config(path) -> config | nil, err

// lua_ledger.cc: recording issued credentials in turnpike's ledger (from a background thread).
void register_ledger_type(lua_State* L);
int l_open_ledger(lua_State* L);  // turnpike.open_ledger(path) -> ledger | nil, err

}  // namespace turnpike::lua
