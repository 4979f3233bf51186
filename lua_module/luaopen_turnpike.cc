// Entry point of the native Lua 5.4 module `turnpike` (require "turnpike"). Built like Prosody's
// own util/*.so: not linked to liblua (the host program provides the Lua API), and exporting
// nothing but luaopen_turnpike (exports.map).
#include "lua_module/lua_bindings.h"

namespace {

const luaL_Reg kFunctions[] = {
    {"load_config", turnpike::lua::l_load_config},
    {"mint", turnpike::lua::l_mint},
    {"password", turnpike::lua::l_password},
    {"open_ledger", turnpike::lua::l_open_ledger},
    {nullptr, nullptr},
};

}  // namespace

extern "C" __attribute__((visibility("default"))) int luaopen_turnpike(lua_State* L) {
  luaL_checkversion(L);
  turnpike::lua::register_config_type(L);
  turnpike::lua::register_ledger_type(L);
  luaL_newlib(L, kFunctions);
  lua_pushliteral(L, TURNPIKE_VERSION);
  lua_setfield(L, -2, "version");
  return 1;
}
