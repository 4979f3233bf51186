// turnpike-admin check-link: a one-time link to the relay's check page (net/check_page.h), for a
// user who cannot connect. The link's token is made here from the config's newest secret
// (core/check_token.h); the relay checks it with the same secret, so nothing is stored until
// the link is used.
#include <unistd.h>

#include <cstdint>
#include <ctime>
#include <iostream>
#include <string>

#include "cmd/admin_args.h"
#include "cmd/admin_commands.h"
#include "cmd/admin_format.h"
#include "config/config_parser.h"
#include "core/check_token.h"
#include "core/random.h"

namespace turnpike::cmd {

namespace {

constexpr const char* kUsage =
    "usage: turnpike-admin check-link [-c FILE] [--ttl 1h] [--note TEXT] [--url BASE] [--json]\n"
    "Prints a one-time link to the relay's check page: opened by a user, it tests their own\n"
    "network in their browser and sends the result to the ledger (turnpike-admin checks).\n";

constexpr int64_t kMaxTtl = 7 * 86400;

// The page's public address: --url, check-url=, else https://HOST:check-listening-port/...
std::string base_url(const AdminArgs& a, const config::Config& cfg, std::string* error) {
  std::string base = a.get("url").value_or(cfg.check_url);
  if (base.empty()) {
    if (!cfg.check_listening_port) {
      *error = "the relay serves no check page: set check-listening-port=PORT (HTTPS with its cert=) "
               "or, behind a reverse proxy, check-url=https://NAME/turnpike-check/";
      return "";
    }
    std::string host = cfg.check_turn_host;
    if (host.empty() && !cfg.external_ips.empty()) host = cfg.external_ips.front().public_ip.to_string();
    if (host.empty() && !cfg.listening_ips.empty() && !cfg.listening_ips.front().is_unspecified()) {
      host = cfg.listening_ips.front().to_string();
    }
    if (host.empty()) {
      char name[256] = {};
      ::gethostname(name, sizeof name - 1);
      host = name;
    }
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    base = "https://" + host + ":" + std::to_string(cfg.check_listening_port) + "/turnpike-check/";
  }
  if (base.rfind("https://", 0) != 0) {
    *error = "the check page's URL must be https:// (browsers give WebRTC and a token only to a "
             "secure page): " + base;
    return "";
  }
  if (base.back() != '/') base += '/';
  return base;
}

}  // namespace

int admin_check_link(int argc, char** argv) {
  const AdminArgs a = AdminArgs::parse(argc, argv, 2, {"config", "ttl", "note", "url"});
  if (!a.error.empty() || !a.positional.empty()) {
    std::cerr << (a.error.empty() ? "" : "turnpike-admin: " + a.error + "\n") << kUsage;
    return 2;
  }
  if (a.has("help")) {
    std::cout << kUsage;
    return 0;
  }
  std::string err;
  const std::string path = a.get("config").value_or("/etc/turnpike/turnpike.conf");
  config::Config cfg;
  if (auto e = config::parse_config_file(path, cfg)) {
    std::cerr << "turnpike-admin: " << e->to_string() << "\n";
    return 1;
  }
  if (cfg.static_auth_secrets.empty()) {
    std::cerr << "turnpike-admin: " << path
              << " has no static-auth-secret line: the check page signs its credentials and "
                 "links with it\n";
    return 1;
  }
  int64_t ttl = 3600;
  if (auto t = a.get("ttl")) {
    auto d = parse_duration(*t);
    if (!d && t->find_first_not_of("0123456789") == std::string::npos && !t->empty() && t->size() < 9) {
      d = std::stoll(*t);
    }
    if (!d || *d <= 0 || *d > kMaxTtl) {
      std::cerr << "turnpike-admin: --ttl " << *t << ": write 30m, 1h, 2d (at most 7d)\n";
      return 2;
    }
    ttl = *d;
  }
  const std::string base = base_url(a, cfg, &err);
  if (base.empty()) {
    std::cerr << "turnpike-admin: " << err << "\n";
    return 1;
  }
  core::CheckToken t;
  core::random_bytes(t.id.data(), t.id.size());
  const int64_t now = std::time(nullptr);
  t.expires = uint32_t(now + ttl);
  t.note = a.get("note").value_or("");
  if (t.note.size() > core::kMaxCheckNoteBytes) {
    std::cerr << "turnpike-admin: --note is longer than " << core::kMaxCheckNoteBytes << " bytes\n";
    return 2;
  }
  const std::string url = base + "#" + core::make_check_token(cfg.newest_secret(), t);
  if (a.has("json")) {
    std::cout << "{\"url\":" << json_string(url) << ",\"id\":" << json_string(t.id_hex())
              << ",\"expires\":" << t.expires << ",\"note\":" << json_string(t.note) << "}\n";
    return 0;
  }
  std::cout << url << "\n"
            << "one use, valid until " << format_time(int64_t(t.expires) * 1000) << " UTC (check "
            << t.id_hex() << (t.note.empty() ? "" : ", " + t.note) << ");\n"
            << "its result: turnpike-admin checks\n";
  return 0;
}

}  // namespace turnpike::cmd
