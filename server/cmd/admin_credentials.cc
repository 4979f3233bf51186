// turnpike-admin credentials: TURN REST credentials minted from the config's newest secret with
// the same code the relay verifies them with (core/rest_credentials).
#include <cstdint>
#include <ctime>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "cmd/admin_args.h"
#include "cmd/admin_commands.h"
#include "cmd/admin_format.h"
#include "config/config_parser.h"
#include "core/rest_credentials.h"

namespace turnpike::cmd {

int admin_credentials(int argc, char** argv) {
  const AdminArgs a = AdminArgs::parse(argc, argv, 2, {"config", "user", "ttl"});
  const auto file = a.get("config");
  if (!a.error.empty() || !file) {
    std::cerr
        << (a.error.empty() ? "" : "turnpike-admin: " + a.error + "\n")
        << "usage: turnpike-admin credentials -c FILE [--user NAME] [--ttl SECONDS] [--json]\n";
    return 2;
  }
  config::Config cfg;
  if (auto err = config::parse_config_file(*file, cfg)) {
    std::cerr << "turnpike-admin: " << err->to_string() << "\n";
    return 1;
  }
  if (cfg.static_auth_secrets.empty()) {
    std::cerr << "turnpike-admin: " << *file
              << " has no static-auth-secret line, so there is nothing to sign credentials with\n";
    return 1;
  }
  int64_t ttl = 86400;
  if (auto t = a.get("ttl")) {
    try {
      ttl = std::stoll(*t);
    } catch (...) {
      ttl = -1;
    }
    if (ttl <= 0) {
      std::cerr << "turnpike-admin: --ttl must be a positive number of seconds\n";
      return 2;
    }
  }
  if (cfg.max_credential_ttl > 0 && ttl > cfg.max_credential_ttl) {
    std::cerr << "turnpike-admin: --ttl " << ttl
              << " is more than max-credential-ttl=" << cfg.max_credential_ttl << " in " << *file
              << "; the relay would refuse it\n";
    return 2;
  }
  const int64_t now = int64_t(std::time(nullptr));
  const core::RestCredential c = core::mint_rest_credential(
      cfg.newest_secret(), a.get("user").value_or(""), now, ttl, cfg.rest_api_separator);
  if (a.has("json")) {
    std::cout << "{\"username\":" << json_string(c.username)
              << ",\"password\":" << json_string(c.password) << ",\"expires\":" << c.expires
              << ",\"ttl\":" << ttl << ",\"realm\":" << json_string(cfg.realm) << "}\n";
  } else {
    std::cout << "username: " << c.username << "\n"
              << "password: " << c.password << "\n"
              << "expires:  " << format_iso(c.expires * 1000) << " (in " << ttl << " s)\n"
              << "realm:    " << cfg.realm << "\n";
  }
  return 0;
}

}  // namespace turnpike::cmd
