// turnpike-admin probe: the command line turned into a probe::ProbeRequest; the work is in
// server/probe.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "cmd/admin_args.h"
#include "cmd/admin_commands.h"
#include "config/config_parser.h"
#include "core/ip_address.h"
#include "core/rest_credentials.h"
#include "probe/probe_run.h"

namespace turnpike::cmd {

namespace {

constexpr const char* kUsage =
    "usage: turnpike-admin probe URL... [--user U --password P | --secret-from CONFIG]\n"
    "       turnpike-admin probe --xmpp JID [--password-file F] [--xmpp-server HOST:PORT]\n"
    "                            [--xmpp-direct-tls] [--xmpp-to DOMAIN]\n"
    "  common: [--ca FILE] [--insecure] [-c CONFIG | --ledger PATH] [--resolve HOST:ADDRESS]...\n"
    "          [--timeout SECONDS] [--packets N] [--json]\n"
    "Tests each STUN/TURN URL step by step as a client would (DNS, connect, TLS, Binding,\n"
    "Allocate, relayed address, a relayed round trip between two allocations of its own,\n"
    "Refresh, deallocation) and says which clients the deployment serves. Exit status 0 only\n"
    "when every URL works.\n";

int usage(const std::string& error) {
  if (!error.empty()) std::cerr << "turnpike-admin probe: " << error << "\n";
  std::cerr << kUsage;
  return 2;
}

// "host:5222", "[2001:db8::1]:5222", "host" (port 0).
bool parse_host_port(const std::string& text, std::string* host, uint16_t* port) {
  std::string h = text, p;
  if (!h.empty() && h[0] == '[') {
    const size_t close = h.find(']');
    if (close == std::string::npos) return false;
    if (close + 1 < h.size()) {
      if (h[close + 1] != ':') return false;
      p = h.substr(close + 2);
    }
    h = h.substr(1, close - 1);
  } else if (h.find(':') != std::string::npos && h.find(':') == h.rfind(':')) {
    p = h.substr(h.find(':') + 1);
    h = h.substr(0, h.find(':'));
  }
  if (h.empty()) return false;
  *host = h;
  *port = 0;
  if (!p.empty()) {
    if (p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos) return false;
    const unsigned long v = std::stoul(p);
    if (v == 0 || v > 65535) return false;
    *port = uint16_t(v);
  }
  return true;
}

std::optional<std::string> read_first_line(const std::string& path, std::string* error) {
  std::ifstream in(path == "-" ? "/dev/stdin" : path);
  if (!in) {
    *error = "cannot read " + path;
    return std::nullopt;
  }
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
  return line;
}

std::optional<config::Config> load_config(const std::string& file) {
  config::Config cfg;
  if (auto err = config::parse_config_file(file, cfg)) {
    std::cerr << "turnpike-admin probe: " << err->to_string() << "\n";
    return std::nullopt;
  }
  return cfg;
}

}  // namespace

int admin_probe(int argc, char** argv) {
  const AdminArgs a = AdminArgs::parse(
      argc, argv, 2,
      {"user", "password", "secret-from", "config", "ledger", "xmpp", "password-file",
       "xmpp-server", "xmpp-to", "ca", "resolve", "timeout", "packets"});
  if (!a.error.empty()) return usage(a.error);
  for (const auto& f : a.flags) {
    if (f != "json" && f != "insecure" && f != "xmpp-direct-tls" && f != "help") {
      return usage("unknown option --" + f);
    }
  }
  if (a.has("help")) {
    std::cout << kUsage;
    return 0;
  }
  probe::ProbeRequest req;
  auto& o = req.options;
  o.ca_file = a.get("ca").value_or("");
  o.insecure = a.has("insecure");
  if (!o.ca_file.empty()) {
    struct stat st {};
    if (::stat(o.ca_file.c_str(), &st) != 0) return usage("--ca " + o.ca_file + ": no such file");
  }
  if (auto it = a.lists.find("resolve"); it != a.lists.end()) {
    for (const auto& r : it->second) {
      const size_t colon = r.find(':');
      auto ip = colon == std::string::npos ? std::nullopt : core::IpAddress::parse(r.substr(colon + 1));
      if (!ip) return usage("--resolve " + r + ": write --resolve HOST:ADDRESS (an IP address)");
      std::string host = r.substr(0, colon);
      for (char& c : host) c = char(std::tolower(static_cast<unsigned char>(c)));
      o.overrides[host].push_back(*ip);
    }
  }
  if (auto t = a.get("timeout")) {
    const double s = std::atof(t->c_str());
    if (s < 0.1 || s > 60) return usage("--timeout is seconds, 0.1 to 60");
    o.timeout = std::chrono::milliseconds(int64_t(s * 1000));
  }
  if (auto p = a.get("packets")) {
    o.packets = std::atoi(p->c_str());
    if (o.packets < 1 || o.packets > 500) return usage("--packets is 1 to 500");
  }

  // The relay's ledger, for its reasons: --ledger, or the ledger= of -c (or --secret-from).
  std::optional<std::string> ledger = a.get("ledger");
  const std::optional<std::string> config_file = a.get("config") ? a.get("config") : a.get("secret-from");
  if (!ledger && config_file) {
    auto cfg = load_config(*config_file);
    if (!cfg) return 1;
    if (!cfg->no_ledger) ledger = cfg->ledger;
  }
  if (ledger) {
    o.refusals = probe::RefusalLookup(*ledger, int64_t(std::time(nullptr)) * 1000 - 2000);
  }

  if (auto jid = a.get("xmpp")) {
    if (!a.positional.empty()) return usage("give URLs or --xmpp, not both");
    probe::XmppOptions x;
    x.jid = *jid;
    x.ca_file = o.ca_file;
    x.insecure = o.insecure;
    x.overrides = o.overrides;
    x.direct_tls = a.has("xmpp-direct-tls");
    x.to = a.get("xmpp-to").value_or("");
    if (auto s = a.get("xmpp-server")) {
      if (!parse_host_port(*s, &x.server_host, &x.server_port)) {
        return usage("--xmpp-server " + *s + ": write HOST:PORT");
      }
    }
    if (jid->find('@') != std::string::npos) {
      const auto file = a.get("password-file");
      if (!file) return usage("--xmpp " + *jid + " needs --password-file F (one line; - for stdin)");
      std::string err;
      auto pw = read_first_line(*file, &err);
      if (!pw) return usage(err);
      x.password = *pw;
    }
    req.xmpp = x;
  } else {
    if (a.positional.empty()) return usage("give a URL (turn:HOST:PORT?transport=udp) or --xmpp JID");
    for (const auto& text : a.positional) {
      std::string err;
      auto u = probe::parse_turn_url(text, &err);
      if (!u) return usage(err);
      req.urls.push_back(*u);
    }
    if (a.get("user") || a.get("password")) {
      if (!a.get("user") || !a.get("password")) return usage("--user and --password go together");
      req.credentials = probe::Credentials{*a.get("user"), *a.get("password"), ""};
    } else if (auto file = a.get("secret-from")) {
      auto cfg = load_config(*file);
      if (!cfg) return 1;
      if (cfg->static_auth_secrets.empty()) {
        std::cerr << "turnpike-admin probe: " << *file
                  << " has no static-auth-secret line: nothing to mint a credential with\n";
        return 1;
      }
      // Short-lived, with a user part that says where it came from in the relay's ledger.
      const auto c = core::mint_rest_credential(cfg->newest_secret(), "turnpike-probe",
                                                int64_t(std::time(nullptr)), 300,
                                                cfg->rest_api_separator);
      req.credentials = probe::Credentials{c.username, c.password, ""};
    }
  }

  const probe::ProbeReport report = probe::run_probe(req);
  std::cout << (a.has("json") ? probe::render_json(report) : probe::render_text(report));
  return report.ok() ? 0 : 1;
}

}  // namespace turnpike::cmd
