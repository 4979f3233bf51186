// turnpike.open_ledger(path): the credentials Prosody issues, recorded in turnpike's ledger.
//
//   local ledger, err = turnpike.open_ledger("/var/lib/turnpike/ledger.db")
//   ledger:record(host, full_jid, turn_username, expires)  -- returns at once
//   ledger:flush([timeout_ms]) -> true | false   -- waits for the disk (tests, shutdown)
//   ledger:stats() -> {recorded=, written=, dropped=, last_error=}
//   ledger:close() -> not_written                 -- also by <close> and on garbage collection
//
// record() appends to a bounded batch that a background thread writes (ledger::CredentialLog):
// Prosody's event loop never waits on SQLite or the disk. The thread never touches Lua. close()
// waits at most CredentialLog::kCloseWaitMs (half a second) for what is pending; with a locked
// or failing database it returns the number of credentials not written by then (at most that
// many are lost) and leaves the thread to end by itself.
#include <cstdint>
#include <ctime>
#include <exception>
#include <memory>
#include <new>
#include <string>

#include "ledger/credential_log.h"
#include "lua_module/lua_bindings.h"
#include "lua_module/lua_support.h"

namespace turnpike::lua {
namespace {

constexpr const char* kLedgerType = "turnpike.ledger";

struct LedgerBox {
  std::unique_ptr<ledger::CredentialLog> log;
};

LedgerBox* check_ledger(lua_State* L) {
  return static_cast<LedgerBox*>(luaL_checkudata(L, 1, kLedgerType));
}

int l_record(lua_State* L) {
  LedgerBox* box = check_ledger(L);
  size_t host_len = 0, jid_len = 0, user_len = 0;
  const char* host = luaL_checklstring(L, 2, &host_len);
  const char* jid = luaL_checklstring(L, 3, &jid_len);
  const char* user = luaL_checklstring(L, 4, &user_len);
  const lua_Integer expires = luaL_checkinteger(L, 5);
  if (!box->log) return luaL_error(L, "turnpike: this ledger is closed");
  ErrorText err;
  if (!run_guarded(err, [&] {
        timespec t{};
        clock_gettime(CLOCK_REALTIME, &t);
        box->log->record({int64_t(t.tv_sec) * 1000 + t.tv_nsec / 1'000'000,
                          std::string(host, host_len), std::string(jid, jid_len),
                          std::string(user, user_len), int64_t(expires)});
      })) {
    return raise(L, err);
  }
  return 0;
}

int l_flush(lua_State* L) {
  LedgerBox* box = check_ledger(L);
  const lua_Integer timeout = luaL_optinteger(L, 2, 5000);
  bool done = true;
  ErrorText err;
  if (box->log && !run_guarded(err, [&] { done = box->log->flush(int(timeout)); }))
    return raise(L, err);
  lua_pushboolean(L, done);
  return 1;
}

int l_stats(lua_State* L) {
  LedgerBox* box = check_ledger(L);
  ledger::CredentialLogStats s;
  ErrorText err;
  if (box->log && !run_guarded(err, [&] { s = box->log->stats(); })) return raise(L, err);
  lua_createtable(L, 0, 4);
  set_integer(L, "recorded", lua_Integer(s.recorded));
  set_integer(L, "written", lua_Integer(s.written));
  set_integer(L, "dropped", lua_Integer(s.dropped));
  if (!s.last_error.empty()) {
    // `s` dies with this function, but lua_pushlstring copies: nothing outlives it.
    set_string(L, "last_error", s.last_error);
  }
  return 1;
}

int l_close(lua_State* L) {
  LedgerBox* box = check_ledger(L);
  uint64_t not_written = 0;
  ErrorText err;
  if (!run_guarded(err, [&] {
        if (box->log) not_written = box->log->close();  // a bounded wait for what is pending
        box->log.reset();
      })) {
    return raise(L, err);
  }
  lua_pushinteger(L, lua_Integer(not_written));
  return 1;
}

int l_tostring(lua_State* L) {
  LedgerBox* box = check_ledger(L);
  if (!box->log) {
    lua_pushliteral(L, "turnpike.ledger (closed)");
  } else {
    lua_pushfstring(L, "turnpike.ledger (%s)", box->log->path().c_str());
  }
  return 1;
}

const luaL_Reg kMethods[] = {
    {"record", l_record}, {"flush", l_flush}, {"stats", l_stats},
    {"close", l_close},   {nullptr, nullptr},
};

}  // namespace

void register_ledger_type(lua_State* L) {
  luaL_newmetatable(L, kLedgerType);
  lua_pushcfunction(L, &destroy_box<LedgerBox>);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, l_close);
  lua_setfield(L, -2, "__close");
  lua_pushcfunction(L, l_tostring);
  lua_setfield(L, -2, "__tostring");
  luaL_newlib(L, kMethods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}

int l_open_ledger(lua_State* L) {
  size_t len = 0;
  const char* path = luaL_checklstring(L, 1, &len);
  LedgerBox* box = push_box<LedgerBox>(L, kLedgerType);  // the metatable registered above
  ErrorText err;
  // Opening is lazy (the background thread opens and migrates the file): a path that cannot be
  // written shows in stats().last_error, and issuing credentials goes on regardless.
  if (!run_guarded(err, [&] {
        box->log = std::make_unique<ledger::CredentialLog>(std::string(path, len));
      })) {
    return push_failure(L, err);
  }
  return 1;
}

}  // namespace turnpike::lua
