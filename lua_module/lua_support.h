// The rules every Lua-facing function of the module follows, in one place.
//
// Lua reports errors with longjmp (Debian's liblua5.4 is C), which skips C++ destructors, and a
// C++ exception must never unwind through Lua's C frames. So:
//  * arguments are checked (luaL_check*, which may raise) before any C++ object exists;
//  * C++ work runs inside run_guarded(), which catches every exception into an ErrorText, a
//    fixed buffer with nothing to destroy; all objects that work creates are gone when it returns;
//  * C++ values that must outlive that work (results to push) live in a "box", a userdata on the
//    Lua stack whose __gc destroys them, so a Lua error while pushing (out of memory) leaks
//    nothing;
//  * only then may Lua errors be raised (raise(), luaL_error).
#pragma once

#include <lua.hpp>

#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string_view>
#include <type_traits>

namespace turnpike::lua {

struct ErrorText {
  char text[1536] = {};
  void set(std::string_view s) {
    size_t n = s.size() < sizeof text - 1 ? s.size() : sizeof text - 1;
    std::memcpy(text, s.data(), n);
    text[n] = '\0';
  }
};
static_assert(std::is_trivially_destructible_v<ErrorText>);

// Runs `body` and converts any exception into `err`. Returns false when one was thrown.
template <typename F>
bool run_guarded(ErrorText& err, F&& body) noexcept {
  try {
    body();
    return true;
  } catch (const std::bad_alloc&) {
    err.set("turnpike: out of memory");
  } catch (const std::exception& e) {
    err.set(e.what());
  } catch (...) {
    err.set("turnpike: unexpected internal error");
  }
  return false;
}

// Raises `err` as a Lua error, prefixed with the calling Lua file and line. Never returns.
inline int raise(lua_State* L, const ErrorText& err) {
  return luaL_error(L, "%s", err.text);
}

// The Lua convention for an expected failure: nil and the message, two results.
inline int push_failure(lua_State* L, const ErrorText& err) {
  lua_pushnil(L);
  lua_pushstring(L, err.text);
  return 2;
}

template <typename T>
int destroy_box(lua_State* L) {
  std::destroy_at(static_cast<T*>(lua_touserdata(L, 1)));
  return 0;
}

// Pushes a userdata holding a default-constructed T, destroyed by __gc. `metatable` names the
// box type in the registry (one name per T).
template <typename T>
T* push_box(lua_State* L, const char* metatable) {
  static_assert(std::is_nothrow_default_constructible_v<T>, "constructing a box must not throw");
  void* memory = lua_newuserdatauv(L, sizeof(T), 0);
  T* value = new (memory) T();
  if (luaL_newmetatable(L, metatable)) {
    lua_pushcfunction(L, &destroy_box<T>);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  return value;
}

// Table fields. The strings pushed must be owned by a box or by Lua.
inline void set_string(lua_State* L, const char* key, std::string_view value) {
  lua_pushlstring(L, value.data(), value.size());
  lua_setfield(L, -2, key);
}
inline void set_integer(lua_State* L, const char* key, lua_Integer value) {
  lua_pushinteger(L, value);
  lua_setfield(L, -2, key);
}
inline void set_boolean(lua_State* L, const char* key, bool value) {
  lua_pushboolean(L, value);
  lua_setfield(L, -2, key);
}

}  // namespace turnpike::lua
