// The config object: turnpike.load_config(path) returns a handle on one turnpike config file
// (parsed by server/config, the daemon's own parser), with methods to mint credentials from its
// newest secret, verify credentials against all its secrets, list the services clients should be
// told about, and reload the file after a rotation without restarting the host program.
#include <cstdint>
#include <ctime>
#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/constant_time.h"
#include "lua_module/advertised_services.h"
#include "lua_module/config_snapshot.h"
#include "lua_module/lua_bindings.h"
#include "lua_module/lua_support.h"

namespace turnpike::lua {
namespace {

constexpr const char* kConfigType = "turnpike.config";

struct ConfigBox {
  std::unique_ptr<ConfigSnapshot> snapshot;  // set once loaded; reload swaps its content
};

struct InfoBox {
  std::vector<std::string> listening_ips;
  std::vector<std::string> external_public;
  std::vector<std::string> external_private;  // "" when the mapping has no private part
  std::optional<std::string> host;
};

struct ServicesBox {
  AdvertiseOptions options;
  std::vector<AdvertisedService> services;
  std::optional<core::RestCredential> credential;  // shared by every entry that needs one
};

struct VerifyBox {
  std::string reason;
  int secret_index = 0;  // 1: the newest secret
};

const ConfigSnapshot& check_config(lua_State* L, int arg) {
  auto* box = static_cast<ConfigBox*>(luaL_checkudata(L, arg, kConfigType));
  if (!box->snapshot) luaL_error(L, "turnpike: this config object was never loaded");
  return *box->snapshot;
}

ConfigBox& check_config_box(lua_State* L, int arg) {
  check_config(L, arg);
  return *static_cast<ConfigBox*>(lua_touserdata(L, arg));
}

// The relay refuses credentials that expire further ahead than max-credential-ttl; minting them
// would hand out credentials that never work, so it is an error here already.
void check_ttl_cap(lua_State* L, const ConfigSnapshot& snap, lua_Integer ttl) {
  const int64_t cap = snap.config.max_credential_ttl;
  if (cap > 0 && ttl > cap) {
    luaL_error(L,
               "turnpike: a TTL of %I s is more than max-credential-ttl=%I in %s, so the relay "
               "would refuse these credentials; lower the TTL or raise max-credential-ttl",
               static_cast<LUAI_UACINT>(ttl), static_cast<LUAI_UACINT>(cap), snap.path.c_str());
  }
}

bool equal_secrets(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return core::constant_time_equal(reinterpret_cast<const uint8_t*>(a.data()),
                                   reinterpret_cast<const uint8_t*>(b.data()), a.size());
}

// turnpike.load_config(path) -> config | nil, message. Never raises for a bad file: a host
// program such as Prosody must keep running with a broken turnpike config.
int load_config(lua_State* L) {
  size_t len = 0;
  const char* path = luaL_checklstring(L, 1, &len);
  ConfigBox* box = push_box<ConfigBox>(L, kConfigType);
  ErrorText err;
  // Everything C++ (the path string, the parse, the snapshot) is built inside the guard; the
  // snapshot then belongs to the box, which Lua's __gc destroys.
  run_guarded(err, [&] {
    auto result = load_snapshot(std::string(path, len));
    if (auto* snapshot = std::get_if<ConfigSnapshot>(&result)) {
      box->snapshot = std::make_unique<ConfigSnapshot>(std::move(*snapshot));
    } else {
      err.set(std::get<std::string>(result));
    }
  });
  return box->snapshot ? 1 : push_failure(L, err);
}

// config:reload() -> true, changed, signing_secret_changed | nil, message. On failure the object
// keeps what it had, so credentials go on being minted from the last good secret.
int reload(lua_State* L) {
  ConfigBox& box = check_config_box(L, 1);
  ErrorText err;
  bool loaded = false, changed = false, signing_changed = false;
  // The fresh snapshot lives only inside the guard: when Lua is called again (and may raise),
  // no C++ object of this function is alive.
  run_guarded(err, [&] {
    auto result = load_snapshot(box.snapshot->path);
    auto* fresh = std::get_if<ConfigSnapshot>(&result);
    if (!fresh) {
      err.set(std::get<std::string>(result));
      return;
    }
    changed = fresh->text != box.snapshot->text;
    signing_changed =
        !equal_secrets(fresh->config.newest_secret(), box.snapshot->config.newest_secret());
    *box.snapshot = std::move(*fresh);  // in place: the box keeps its snapshot object
    loaded = true;
  });
  if (!loaded) return push_failure(L, err);
  lua_pushboolean(L, true);
  lua_pushboolean(L, changed);
  lua_pushboolean(L, signing_changed);
  return 3;
}

// config:changed_on_disk() -> boolean: the file was replaced, written or removed since it was
// (re)loaded. A stat(2); cheap enough for a timer.
int changed_on_disk(lua_State* L) {
  const ConfigSnapshot& snap = check_config(L, 1);
  ErrorText err;
  bool changed = true;
  if (!run_guarded(err, [&] {
        auto now = identify_file(snap.path);
        changed = !now || *now != snap.identity;
      })) {
    return raise(L, err);
  }
  lua_pushboolean(L, changed);
  return 1;
}

int path(lua_State* L) {
  const ConfigSnapshot& snap = check_config(L, 1);
  lua_pushlstring(L, snap.path.data(), snap.path.size());
  return 1;
}

int to_string(lua_State* L) {
  const ConfigSnapshot& snap = check_config(L, 1);
  lua_pushfstring(L, "turnpike.config: %s (realm %s, %d secret(s))", snap.path.c_str(),
                  snap.config.realm.c_str(), int(snap.config.static_auth_secrets.size()));
  return 1;
}

void push_string_array(lua_State* L, const std::vector<std::string>& items) {
  lua_createtable(L, int(items.size()), 0);
  for (size_t i = 0; i < items.size(); ++i) {
    lua_pushlstring(L, items[i].data(), items[i].size());
    lua_rawseti(L, -2, lua_Integer(i + 1));
  }
}

// config:info() -> table describing what was read (everything but the secrets themselves).
int info(lua_State* L) {
  const ConfigSnapshot& snap = check_config(L, 1);
  const config::Config& c = snap.config;
  InfoBox* box = push_box<InfoBox>(L, "turnpike.info_box");
  ErrorText err;
  if (!run_guarded(err, [&] {
        for (const auto& ip : c.listening_ips) box->listening_ips.push_back(ip.to_string());
        for (const auto& e : c.external_ips) {
          box->external_public.push_back(e.public_ip.to_string());
          box->external_private.push_back(e.private_ip ? e.private_ip->to_string() : std::string());
        }
        box->host = config_host(c);
      })) {
    return raise(L, err);
  }
  lua_createtable(L, 0, 20);
  set_string(L, "path", snap.path);
  set_string(L, "realm", c.realm);
  set_integer(L, "secrets", lua_Integer(c.static_auth_secrets.size()));
  set_boolean(L, "use_auth_secret", c.use_auth_secret);
  set_integer(L, "max_credential_ttl", c.max_credential_ttl);
  set_string(L, "separator", std::string_view(&c.rest_api_separator, 1));
  set_integer(L, "listening_port", c.listening_port);
  set_integer(L, "tls_listening_port", c.tls_listening_port);
  set_boolean(L, "udp", !c.no_udp);
  set_boolean(L, "tcp", !c.no_tcp);
  set_boolean(L, "tls", !c.cert.empty() && !c.no_tls);
  if (c.mux_listening_port) set_integer(L, "mux_listening_port", c.mux_listening_port);
  if (!c.cert.empty()) set_string(L, "cert", c.cert);
  if (!c.no_ledger) set_string(L, "ledger", c.ledger);  // where issued credentials are recorded
  push_string_array(L, box->listening_ips);
  lua_setfield(L, -2, "listening_ips");
  lua_createtable(L, int(box->external_public.size()), 0);
  for (size_t i = 0; i < box->external_public.size(); ++i) {
    lua_createtable(L, 0, 2);
    set_string(L, "public", box->external_public[i]);
    if (!box->external_private[i].empty()) set_string(L, "private", box->external_private[i]);
    lua_rawseti(L, -2, lua_Integer(i + 1));
  }
  lua_setfield(L, -2, "external_ips");
  set_boolean(L, "external_ip_auto", c.external_ip_auto);
  if (box->host) set_string(L, "host", *box->host);
  push_string_array(L, c.notices);
  lua_setfield(L, -2, "notices");
  set_integer(L, "loaded_at", snap.loaded_at);
  return 1;
}

// config:mint(user, ttl [, now]) -> {username, password, expires}, signed with the newest secret
// (the last static-auth-secret line).
int mint(lua_State* L) {
  const ConfigSnapshot& snap = check_config(L, 1);
  size_t user_len = 0;
  const char* user = luaL_optlstring(L, 2, "", &user_len);
  const lua_Integer ttl = luaL_checkinteger(L, 3);
  const int64_t now = optional_now(L, 4);
  const config::Config& c = snap.config;
  check_ttl_cap(L, snap, ttl);
  struct Box {
    core::RestCredential credential;
  };
  Box* box = push_box<Box>(L, "turnpike.config_credential_box");
  ErrorText err;
  if (!run_guarded(err, [&] {
        box->credential =
            mint_checked(c.newest_secret(), {user, user_len}, ttl, now, c.rest_api_separator);
      })) {
    return raise(L, err);
  }
  push_credential(L, box->credential);
  return 1;
}

// config:verify(username, password [, now]) -> true, n | false, reason. n is the secret that
// matched, 1 being the newest. The relay's own checks (core::check_rest_username), then the
// password against every secret, newest first.
int verify(lua_State* L) {
  const ConfigSnapshot& snap = check_config(L, 1);
  size_t user_len = 0, pass_len = 0;
  const char* username = luaL_checklstring(L, 2, &user_len);
  const char* password = luaL_checklstring(L, 3, &pass_len);
  const int64_t now = optional_now(L, 4);
  const config::Config& c = snap.config;
  VerifyBox* box = push_box<VerifyBox>(L, "turnpike.verify_box");
  ErrorText err;
  if (!run_guarded(err, [&] {
        const std::string_view name(username, user_len);
        using Check = core::RestUsernameCheck::Status;
        const auto check =
            core::check_rest_username(name, c.rest_api_separator, now, c.max_credential_ttl);
        switch (check.status) {
          case Check::NotRest:
            box->reason = "not a TURN REST username (<expiry>" +
                          std::string(1, c.rest_api_separator) + "<user>)";
            return;
          case Check::Expired:
            box->reason = "expired " + std::to_string(check.seconds) + " s ago";
            return;
          case Check::TooFarAhead:
            box->reason =
                "expires " + std::to_string(check.seconds) +
                " s ahead, more than max-credential-ttl=" + std::to_string(c.max_credential_ttl);
            return;
          case Check::Ok:
            break;
        }
        const auto& secrets = c.static_auth_secrets;
        for (size_t i = secrets.size(); i-- > 0;) {
          if (equal_secrets(core::rest_password(secrets[i], name), {password, pass_len})) {
            box->secret_index = int(secrets.size() - i);
            return;
          }
        }
        box->reason = "the password matches no static-auth-secret in " + snap.path;
      })) {
    return raise(L, err);
  }
  if (box->secret_index > 0) {
    lua_pushboolean(L, true);
    lua_pushinteger(L, box->secret_index);
  } else {
    lua_pushboolean(L, false);
    lua_pushlstring(L, box->reason.data(), box->reason.size());
  }
  return 2;
}

// config:has_secret(secret) -> boolean: whether the relay verifies credentials signed with it.
int has_secret(lua_State* L) {
  const ConfigSnapshot& snap = check_config(L, 1);
  size_t len = 0;
  const char* secret = luaL_checklstring(L, 2, &len);
  bool found = false;
  for (const std::string& s : snap.config.static_auth_secrets)
    found |= equal_secrets(s, {secret, len});
  lua_pushboolean(L, found);
  return 1;
}

std::optional<lua_Integer> optional_integer_field(lua_State* L, int table, const char* key) {
  lua_getfield(L, table, key);
  std::optional<lua_Integer> value;
  if (!lua_isnil(L, -1)) {
    int is_integer = 0;
    value = lua_tointegerx(L, -1, &is_integer);
    if (!is_integer) luaL_error(L, "turnpike: services{%s=...} must be a whole number", key);
  }
  lua_pop(L, 1);
  return value;
}

std::optional<uint16_t> optional_port_field(lua_State* L, int table, const char* key) {
  lua_getfield(L, table, key);
  std::optional<uint16_t> port;
  if (!lua_isnil(L, -1)) {
    int is_number = 0;
    const lua_Integer n = lua_tointegerx(L, -1, &is_number);
    if (!is_number || n < 1 || n > 65535) {
      luaL_error(L, "turnpike: services{%s=...} must be a port number (1-65535)", key);
    }
    port = uint16_t(n);
  }
  lua_pop(L, 1);
  return port;
}

// config:services{ host = "name" or {"a", "b"}, port = n, tls_port = n, user = "u", ttl = s,
//                  now = t } -> { {type, transport, host, port [, restricted, username, password,
// expires]} ... }. With `ttl`, every entry that needs credentials gets fresh ones (the newest
// secret); without it those entries are only marked restricted (XEP-0215 §2).
int services(lua_State* L) {
  const ConfigSnapshot& snap = check_config(L, 1);
  lua_settop(L, 2);
  if (lua_isnil(L, 2)) {
    lua_newtable(L);
    lua_replace(L, 2);
  }
  luaL_checktype(L, 2, LUA_TTABLE);
  const std::optional<uint16_t> port = optional_port_field(L, 2, "port");
  const std::optional<uint16_t> tls_port = optional_port_field(L, 2, "tls_port");
  const std::optional<lua_Integer> ttl_field = optional_integer_field(L, 2, "ttl");
  const bool with_credentials = ttl_field.has_value();
  const lua_Integer ttl = ttl_field.value_or(0);
  const int64_t now = optional_integer_field(L, 2, "now").value_or(int64_t(std::time(nullptr)));
  lua_getfield(L, 2, "user");
  size_t user_len = 0;
  if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING) {
    return luaL_error(L, "turnpike: services{user=...} must be a string");
  }
  const char* user = lua_isnil(L, -1) ? "" : lua_tolstring(L, -1, &user_len);
  lua_getfield(L, 2, "host");
  const int host_index = lua_gettop(L);
  const int host_type = lua_type(L, host_index);
  if (host_type != LUA_TNIL && host_type != LUA_TSTRING && host_type != LUA_TTABLE) {
    return luaL_error(L, "turnpike: services{host=...} must be a string or a list of strings");
  }
  const config::Config& c = snap.config;
  if (with_credentials) check_ttl_cap(L, snap, ttl);

  ServicesBox* box = push_box<ServicesBox>(L, "turnpike.services_box");
  box->options.port = port;
  box->options.tls_port = tls_port;
  // Collect the host names: Lua strings stay on the stack while they are copied.
  const lua_Integer host_count = host_type == LUA_TTABLE    ? lua_Integer(lua_rawlen(L, host_index))
                                 : host_type == LUA_TSTRING ? 1
                                                            : 0;
  for (lua_Integer i = 1; i <= host_count; ++i) {
    if (host_type == LUA_TTABLE)
      lua_rawgeti(L, host_index, i);
    else
      lua_pushvalue(L, host_index);
    if (lua_type(L, -1) != LUA_TSTRING) {
      return luaL_error(L, "turnpike: services{host=...}: entry %d is not a string", int(i));
    }
    size_t len = 0;
    const char* name = lua_tolstring(L, -1, &len);
    ErrorText err;
    if (!run_guarded(err, [&] { box->options.hosts.emplace_back(name, len); }))
      return raise(L, err);
    lua_pop(L, 1);
  }

  ErrorText err;
  bool derived = false;
  if (!run_guarded(err, [&] {
        auto result = advertised_services(c, box->options);
        if (auto* list = std::get_if<std::vector<AdvertisedService>>(&result)) {
          box->services = std::move(*list);
          derived = true;
        } else {
          err.set(std::get<std::string>(result));
          return;
        }
        // One credential for the whole answer: every entry names the same relay and secret.
        if (with_credentials) {
          box->credential =
              mint_checked(c.newest_secret(), {user, user_len}, ttl, now, c.rest_api_separator);
        }
      })) {
    return raise(L, err);
  }
  if (!derived) return raise(L, err);

  lua_createtable(L, int(box->services.size()), 0);
  for (size_t i = 0; i < box->services.size(); ++i) {
    const AdvertisedService& s = box->services[i];
    lua_createtable(L, 0, 8);
    set_string(L, "type", s.type);
    set_string(L, "transport", s.transport);
    set_string(L, "host", s.host);
    set_integer(L, "port", s.port);
    if (s.needs_credentials) {
      set_boolean(L, "restricted", true);
      if (box->credential) {
        const core::RestCredential& cred = *box->credential;
        set_string(L, "username", cred.username);
        set_string(L, "password", cred.password);
        set_integer(L, "expires", cred.expires);
      }
    }
    lua_rawseti(L, -2, lua_Integer(i + 1));
  }
  return 1;
}

const luaL_Reg kMethods[] = {
    {"reload", reload},
    {"changed_on_disk", changed_on_disk},
    {"path", path},
    {"info", info},
    {"mint", mint},
    {"verify", verify},
    {"has_secret", has_secret},
    {"services", services},
    {nullptr, nullptr},
};

}  // namespace

void register_config_type(lua_State* L) {
  luaL_newmetatable(L, kConfigType);
  lua_pushcfunction(L, &destroy_box<ConfigBox>);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, to_string);
  lua_setfield(L, -2, "__tostring");
  luaL_newlib(L, kMethods);
  lua_setfield(L, -2, "__index");
  lua_pushliteral(L, "turnpike.config");
  lua_setfield(L, -2, "__metatable");  // getmetatable() from Lua sees a string, not the methods
  lua_pop(L, 1);
}

int l_load_config(lua_State* L) {
  return load_config(L);
}

}  // namespace turnpike::lua
