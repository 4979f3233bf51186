// The functions of the Lua module `turnpike` (lua_module/) that mod_turnpike calls with what an
// XMPP client controls: the user part of a credential comes from the requester's JID or a
// request attribute, and a deployment may pass hosts and ports through. Each input is decoded
// into arguments and handed, through the real Lua 5.4 C API and the real luaopen_turnpike, to
//   turnpike.mint, turnpike.password, config:mint, config:verify, config:has_secret and
//   config:services (with and without credentials).
// Traps when a promise breaks, not only on a crash or a sanitizer report:
// - every call either returns or raises a Lua error that is a string (never a C++ exception
//   escaping into Lua, never a non-string error);
// - a credential from turnpike.mint has the password turnpike.password gives for its username;
// - a credential from config:mint or config:services verifies with config:verify against the
//   newest secret (n == 1) at the time it was minted for.
// The ledger's record() is left out: it hands rows to a background thread that writes SQLite, so
// the result of an input would depend on timing (its arguments are plain strings stored as blobs;
// tests/lua and the Prosody ledger test cover it).
//
// Input layout (missing bytes read as zero): flags (1 byte), ttl (8), now (8), port (2),
// tls_port (2), then length-prefixed strings (1 length byte each): secret, user, username,
// password, host1, host2.
#include <lua.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

extern "C" int luaopen_turnpike(lua_State* L);

namespace {

// The checks, in Lua: the calls as mod_turnpike makes them, each under pcall. Returns nil, or a
// string naming the promise that broke.
constexpr const char* kDriver = R"lua(
local tp, cfg, flags, ttl, now, port, tls_port, secret, user, username, password, host1, host2 = ...
local function call(f, ...)
  local ok, r1, r2 = pcall(f, ...)
  if not ok and type(r1) ~= "string" then error("a call raised a " .. type(r1) .. ", not a message") end
  return ok, r1, r2
end
local ok, c = call(tp.mint, secret, user, ttl, now)
if ok then
  if type(c.username) ~= "string" or type(c.password) ~= "string" or math.type(c.expires) ~= "integer" then
    return "turnpike.mint returned a malformed credential"
  end
  local pok, p = call(tp.password, secret, c.username)
  if not pok or p ~= c.password then return "turnpike.mint and turnpike.password disagree" end
end
call(tp.password, secret, username)
local function verifies(cred, label)
  local vok, v, n = call(cfg.verify, cfg, cred.username, cred.password, now)
  if not vok or v ~= true or n ~= 1 then
    return label .. " gave a credential config:verify refuses: " .. tostring(n)
  end
end
ok, c = call(cfg.mint, cfg, user, ttl, now)
if ok then
  local broken = verifies(c, "config:mint")
  if broken then return broken end
end
call(cfg.verify, cfg, username, password, now)
call(cfg.has_secret, cfg, secret)
local hosts = host1
if flags & 1 ~= 0 then hosts = { host1, host2 } end
local opts = { host = hosts, user = user, now = now }
if flags & 2 ~= 0 then opts.ttl = ttl end
if flags & 4 ~= 0 then opts.port = port end
if flags & 8 ~= 0 then opts.tls_port = tls_port end
local sok, services = call(cfg.services, cfg, opts)
if sok then
  for _, s in ipairs(services) do
    if type(s.type) ~= "string" or type(s.host) ~= "string" or math.type(s.port) ~= "integer" then
      return "config:services returned a malformed entry"
    end
    if s.username then
      local broken = verifies(s, "config:services")
      if broken then return broken end
    end
  end
end
return nil
)lua";

// The relay config the module reads, as a Jitsi host's would look (two secrets: rotation).
constexpr const char* kConfig =
    "listening-ip=127.0.0.1\nlistening-port=3478\nrealm=example.org\nuse-auth-secret\n"
    "static-auth-secret=first-secret\nstatic-auth-secret=newest-secret\n"
    "max-credential-ttl=172800\n";

struct Reader {
  const uint8_t* p;
  size_t n;
  uint64_t integer(size_t bytes) {
    uint64_t v = 0;
    for (size_t i = 0; i < bytes; ++i) {
      v |= uint64_t(n ? *p : 0) << (8 * i);
      if (n) ++p, --n;
    }
    return v;
  }
  std::string_view text() {
    const size_t len = std::min<size_t>(integer(1), n);
    std::string_view s(reinterpret_cast<const char*>(p), len);
    p += len;
    n -= len;
    return s;
  }
};

lua_State* state = nullptr;
int driver_ref = LUA_NOREF;
int module_ref = LUA_NOREF;
int config_ref = LUA_NOREF;

void die(const char* what, lua_State* L) {
  std::fprintf(stderr, "fuzz_lua_module: %s: %s\n", what, lua_tostring(L, -1));
  std::abort();
}

void set_up() {
  char path[] = "/tmp/fuzz_lua_module.XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0 || write(fd, kConfig, std::strlen(kConfig)) != ssize_t(std::strlen(kConfig))) std::abort();
  close(fd);
  state = luaL_newstate();
  luaL_openlibs(state);
  luaL_requiref(state, "turnpike", luaopen_turnpike, 0);
  module_ref = luaL_ref(state, LUA_REGISTRYINDEX);
  lua_rawgeti(state, LUA_REGISTRYINDEX, module_ref);
  lua_getfield(state, -1, "load_config");
  lua_pushstring(state, path);
  if (lua_pcall(state, 1, 2, 0) != LUA_OK || lua_isnil(state, -2)) die("load_config", state);
  lua_pop(state, 1);
  config_ref = luaL_ref(state, LUA_REGISTRYINDEX);
  lua_pop(state, 1);
  unlink(path);  // the snapshot is in memory; reload() is not fuzzed
  if (luaL_loadstring(state, kDriver) != LUA_OK) die("the driver", state);
  driver_ref = luaL_ref(state, LUA_REGISTRYINDEX);
}

void push(std::string_view s) { lua_pushlstring(state, s.data(), s.size()); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (!state) set_up();
  Reader in{data, size};
  const uint64_t flags = in.integer(1);
  int64_t ttl = int64_t(in.integer(8));
  int64_t now = int64_t(in.integer(8));
  // Mostly values a caller passes (a TTL of up to two days, a clock near today); the raw 64-bit
  // values when flag 16/32 says so, for the range checks.
  if (!(flags & 16)) ttl = int64_t(uint64_t(ttl) % 200'000) - 100;
  if (!(flags & 32)) now = 1'800'000'000 + int64_t(int32_t(uint32_t(now)));
  const lua_Integer port = lua_Integer(in.integer(2)) - ((flags & 64) ? 1000 : 0);
  const lua_Integer tls_port = lua_Integer(in.integer(2));
  const int top = lua_gettop(state);
  lua_rawgeti(state, LUA_REGISTRYINDEX, driver_ref);
  lua_rawgeti(state, LUA_REGISTRYINDEX, module_ref);
  lua_rawgeti(state, LUA_REGISTRYINDEX, config_ref);
  lua_pushinteger(state, lua_Integer(flags));
  lua_pushinteger(state, ttl);
  lua_pushinteger(state, now);
  lua_pushinteger(state, port);
  lua_pushinteger(state, tls_port);
  for (int i = 0; i < 6; ++i) push(in.text());  // secret user username password host1 host2
  if (lua_pcall(state, 13, 1, 0) != LUA_OK) die("a promise broke", state);
  if (!lua_isnil(state, -1)) die("a promise broke", state);
  lua_settop(state, top);
  lua_gc(state, LUA_GCSTEP, 0);
  return 0;
}
