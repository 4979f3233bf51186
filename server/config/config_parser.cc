#include "config/config_parser.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include "config/options.h"

namespace turnpike::config {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

std::string_view unquote(std::string_view v) {
  if (v.size() >= 2 &&
      ((v.front() == '"' && v.back() == '"') || (v.front() == '\'' && v.back() == '\''))) {
    return v.substr(1, v.size() - 2);
  }
  return v;
}

std::optional<bool> parse_bool(std::string_view v) {
  if (v == "1" || v == "true" || v == "yes" || v == "on") return true;
  if (v == "0" || v == "false" || v == "no" || v == "off") return false;
  return std::nullopt;
}

std::string suggestion(std::string_view name) {
  // A near miss (one edit away) is almost always a typo; say which option was meant.
  auto distance = [](std::string_view a, std::string_view b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
      cur[0] = i;
      for (size_t j = 1; j <= b.size(); ++j) {
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
      }
      std::swap(prev, cur);
    }
    return prev[b.size()];
  };
  auto table = option_table();
  for (const OptionSpec* o = table.begin; o != table.end; ++o) {
    if (distance(name, o->name) <= 2) return "; did you mean '" + std::string(o->name) + "'?";
  }
  return "; `turnpike --help` lists every option";
}

}  // namespace

std::string ConfigError::to_string() const {
  std::string s = file;
  if (line > 0) {
    s += ':';
    s += std::to_string(line);
  }
  s += ": ";
  if (!option.empty()) s += "option '" + option + "': ";
  s += message;
  return s;
}

const std::string& Config::newest_secret() const {
  static const std::string kNone;
  return static_auth_secrets.empty() ? kNone : static_auth_secrets.back();
}

std::optional<ConfigError> apply_option(Config& cfg, std::string_view name,
                                        std::optional<std::string_view> value,
                                        const Location& where) {
  auto error = [&](std::string message) {
    return ConfigError{where.file, where.line, std::string(name), std::move(message)};
  };
  const OptionSpec* spec = find_option(name);
  if (!spec) {
    return ConfigError{where.file, where.line, std::string(name),
                       "unknown option" + suggestion(name)};
  }
  std::string_view v;
  if (spec->kind == OptionKind::Flag) {
    bool on = true;
    if (value) {
      auto b = parse_bool(*value);
      if (!b)
        return error("is a flag; write it alone, or with yes/no, not '" + std::string(*value) +
                     "'");
      on = *b;
    }
    v = on ? "1" : "0";
  } else {
    if (!value || value->empty()) return error("needs a value: " + std::string(spec->help));
    v = *value;
  }
  if (auto msg = spec->set(cfg, v)) return error(*msg);
  cfg.sites[std::string(name)] = OptionSite{where.file, where.line};
  if (spec->obsolete) {
    std::string notice = where.file + (where.line ? ":" + std::to_string(where.line) : "") + ": '" +
                         std::string(name) + "': " + std::string(spec->help);
    bool seen = false;
    for (const auto& n : cfg.notices) {
      if (n.find("'" + std::string(name) + "'") != std::string::npos) seen = true;
    }
    if (!seen) cfg.notices.push_back(std::move(notice));
  }
  return std::nullopt;
}

std::optional<ConfigError> parse_config_text(std::string_view text, const std::string& file,
                                             Config& cfg) {
  int line_no = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    line = trim(line);
    if (line.empty() || line.front() == '#') continue;
    // "name=value", "name value" or "name". Command-line style "--name" is accepted too.
    if (line.substr(0, 2) == "--") line.remove_prefix(2);
    const size_t sep = line.find_first_of("= \t");
    std::string_view name = line.substr(0, sep);
    std::optional<std::string_view> value;
    if (sep != std::string_view::npos) {
      std::string_view rest = trim(line.substr(sep));
      if (!rest.empty() && rest.front() == '=') rest = trim(rest.substr(1));
      value = unquote(rest);
    }
    if (auto err = apply_option(cfg, name, value, Location{file, line_no})) return err;
  }
  return std::nullopt;
}

std::optional<ConfigError> parse_config_file(const std::string& path, Config& cfg) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return ConfigError{path, 0, "",
                       std::string("cannot read the file (") + std::strerror(errno) +
                           "); check the path and that this user may read it"};
  }
  std::stringstream ss;
  ss << in.rdbuf();
  cfg.source = path;
  return parse_config_text(ss.str(), path, cfg);
}

std::optional<ConfigError> validate(Config& cfg) {
  auto error = [&](std::string option, std::string message) {
    return ConfigError{cfg.source.empty() ? "configuration" : cfg.source, 0, std::move(option),
                       std::move(message)};
  };
  if (cfg.min_port > cfg.max_port) {
    return error("min-port", "min-port (" + std::to_string(cfg.min_port) + ") is above max-port (" +
                                 std::to_string(cfg.max_port) + ")");
  }
  if (cfg.use_auth_secret && cfg.static_auth_secrets.empty()) {
    return error("use-auth-secret",
                 "needs at least one static-auth-secret=... line (the secret Prosody signs with)");
  }
  if (!cfg.no_auth && !cfg.use_auth_secret && cfg.users.empty()) {
    return error("",
                 "no way to authenticate clients: add use-auth-secret with static-auth-secret, "
                 "or user=NAME:PASSWORD lines (no-auth turns authentication off, for tests only)");
  }
  if (cfg.realm.empty()) return error("realm", "must not be empty");
  if (!cfg.use_auth_secret && !cfg.static_auth_secrets.empty()) {
    cfg.notices.push_back(
        cfg.source +
        ": 'static-auth-secret' is set but 'use-auth-secret' is not, "
        "so REST API credentials are refused; add use-auth-secret to accept them");
  }
  if (cfg.default_allocate_lifetime > cfg.max_allocate_lifetime) {
    return error("max-allocate-lifetime", "must be at least the default lifetime (600 s)");
  }
  if (cfg.external_ip_auto && !cfg.external_ip_stun_server) {
    return error("external-ip",
                 "auto needs external-ip-stun-server=ADDRESS[:PORT], the STUN server to ask");
  }
  if (cfg.no_udp && cfg.no_tcp && cfg.no_tls && !cfg.dtls && !cfg.mux_listening_port &&
      !cfg.tcp_proxy_port && !cfg.tls_proxy_port) {
    return error("no-udp", "with no-tcp and no-tls leaves nothing to listen on");
  }
  // proc-group alone would switch the group only: root's user id, and with it every file and
  // capability, would stay (and root's supplementary groups too). That is no privilege drop.
  if (!cfg.proc_group.empty() && cfg.proc_user.empty()) {
    auto it = cfg.sites.find("proc-group");
    return ConfigError{it != cfg.sites.end() ? it->second.file
                                             : (cfg.source.empty() ? "configuration" : cfg.source),
                       it != cfg.sites.end() ? it->second.line : 0, "proc-group",
                       "needs proc-user too: switching only the group leaves turnpike running as "
                       "root; add proc-user=turnpike (proc-group then picks a group other than "
                       "its own)"};
  }
  return validate_transports(cfg);
}

std::optional<ConfigError> validate_transports(Config& cfg) {
  // Errors point at the line that set the option (or at the file when it was not set).
  auto error_at = [&](const std::string& option, std::string message) {
    auto it = cfg.sites.find(option);
    if (it == cfg.sites.end()) {
      return ConfigError{cfg.source.empty() ? "configuration" : cfg.source, 0, option,
                         std::move(message)};
    }
    return ConfigError{it->second.file, it->second.line, option, std::move(message)};
  };
  if (cfg.mux_listening_port && !cfg.mux_web_backend) {
    return error_at("mux-listening-port",
                    "needs mux-web-backend=IP:PORT, the address the web server listens on now "
                    "(e.g. 127.0.0.1:4444)");
  }
  if (!cfg.mux_listening_port) {
    for (const char* o :
         {"mux-web-backend", "mux-web-sni", "mux-proxy-protocol", "mux-web-drain-timeout"}) {
      if (cfg.sites.count(o)) {
        cfg.notices.push_back(cfg.sites[o].file + ": '" + o +
                              "' has no effect without mux-listening-port");
      }
    }
  }
  // Everything TLS needs a certificate.
  if (cfg.cert.empty()) {
    for (const char* o : {"mux-listening-port", "tls-proxy-port", "dtls", "check-listening-port"}) {
      const std::string_view n = o;
      const bool on = n == "dtls"                   ? cfg.dtls
                      : n == "tls-proxy-port"       ? cfg.tls_proxy_port != 0
                      : n == "check-listening-port" ? cfg.check_listening_port != 0
                                                    : cfg.mux_listening_port != 0;
      if (on) {
        return error_at(o,
                        "needs a certificate: add cert=/path/to/fullchain.pem and "
                        "pkey=/path/to/privkey.pem");
      }
    }
    if (!cfg.no_tls && cfg.sites.count("tls-listening-port")) {
      return error_at("tls-listening-port",
                      "needs a certificate: add cert= and pkey=, or no-tls to run without TLS");
    }
    if (!cfg.no_tls) {
      cfg.notices.push_back("no cert= is configured, so there is no TLS listener on port " +
                            std::to_string(cfg.tls_listening_port) +
                            " (add cert= and pkey=, or no-tls to say so)");
    }
  }
  if (!cfg.pkey.empty() && cfg.cert.empty()) {
    return error_at("pkey", "is set but cert is not: add cert=/path/to/fullchain.pem");
  }
  // Two listeners on one TCP port cannot both exist.
  struct Use {
    const char* option;
    uint16_t port;
  };
  std::vector<Use> tcp;
  if (!cfg.no_tcp) tcp.push_back({"listening-port", cfg.listening_port});
  if (!cfg.no_tls && !cfg.cert.empty())
    tcp.push_back({"tls-listening-port", cfg.tls_listening_port});
  if (cfg.mux_listening_port) tcp.push_back({"mux-listening-port", cfg.mux_listening_port});
  if (cfg.tcp_proxy_port) tcp.push_back({"tcp-proxy-port", cfg.tcp_proxy_port});
  if (cfg.tls_proxy_port) tcp.push_back({"tls-proxy-port", cfg.tls_proxy_port});
  if (cfg.check_listening_port) tcp.push_back({"check-listening-port", cfg.check_listening_port});
  for (size_t i = 0; i < tcp.size(); ++i) {
    for (size_t j = i + 1; j < tcp.size(); ++j) {
      if (tcp[i].port == tcp[j].port) {
        const bool j_set = cfg.sites.count(tcp[j].option) != 0;
        const Use& later = j_set ? tcp[j] : tcp[i];
        const Use& other = j_set ? tcp[i] : tcp[j];
        return error_at(later.option, "port " + std::to_string(later.port) + " is already " +
                                          other.option + "; choose another port");
      }
    }
  }
  if (cfg.dtls && !cfg.no_udp && cfg.tls_listening_port == cfg.listening_port) {
    return error_at("dtls",
                    "DTLS listens on udp port tls-listening-port, which equals "
                    "listening-port; choose another tls-listening-port");
  }
  if (cfg.mux_listening_port && cfg.mux_web_backend &&
      cfg.mux_web_backend->port() == cfg.mux_listening_port &&
      (cfg.listening_ips.empty() ||
       std::find(cfg.listening_ips.begin(), cfg.listening_ips.end(), cfg.mux_web_backend->ip()) !=
           cfg.listening_ips.end())) {
    return error_at("mux-web-backend",
                    "points at mux-listening-port itself; move the web server "
                    "to another port (e.g. 127.0.0.1:4444)");
  }
  return std::nullopt;
}

CommandLine parse_command_line(int argc, const char* const* argv) {
  CommandLine out;
  Config cfg;
  std::optional<std::string> file;
  bool no_file = false;
  struct Arg {
    std::string name;
    std::optional<std::string> value;
  };
  std::vector<Arg> args;

  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "-c" || a == "--config") {
      if (i + 1 >= argc) {
        out.error = ConfigError{"command line", 0, "-c", "needs the path of a config file"};
        return out;
      }
      file = argv[++i];
    } else if (a.substr(0, 9) == "--config=") {
      file = std::string(a.substr(9));
    } else if (a == "-n") {
      no_file = true;
    } else if (a == "-h" || a == "--help") {
      out.help = true;
      return out;
    } else if (a == "--version") {
      out.version = true;
      return out;
    } else if (a.substr(0, 2) == "--") {
      a.remove_prefix(2);
      const size_t eq = a.find('=');
      Arg arg{std::string(a.substr(0, eq)), std::nullopt};
      if (eq != std::string_view::npos) {
        arg.value = std::string(a.substr(eq + 1));
      } else if (const OptionSpec* spec = find_option(arg.name);
                 spec && spec->kind == OptionKind::Value && i + 1 < argc) {
        arg.value = argv[++i];  // "--option value"
      }
      args.push_back(std::move(arg));
    } else {
      out.error = ConfigError{"command line", 0, std::string(a),
                              "unexpected argument; options are written --name=value"};
      return out;
    }
  }

  if (file && !no_file) {
    if (auto err = parse_config_file(*file, cfg)) {
      out.error = err;
      return out;
    }
  } else {
    cfg.source = "command line";
  }
  std::set<std::string> replaced;
  for (const Arg& a : args) {
    const OptionSpec* spec = find_option(a.name);
    if (spec && spec->clear && !replaced.count(a.name)) {
      spec->clear(cfg);
      replaced.insert(a.name);
    }
    std::optional<std::string_view> v;
    if (a.value) v = *a.value;
    if (auto err = apply_option(cfg, a.name, v, Location{"command line", 0})) {
      out.error = err;
      return out;
    }
  }
  if (auto err = validate(cfg)) {
    out.error = err;
    return out;
  }
  out.config = std::move(cfg);
  return out;
}

std::string options_help() {
  std::string s;
  auto table = option_table();
  for (const OptionSpec* o = table.begin; o != table.end; ++o) {
    if (o->obsolete) continue;
    std::string left =
        "  --" + std::string(o->name) + (o->kind == OptionKind::Value ? "=VALUE" : "");
    if (left.size() < 40) left.resize(40, ' ');
    s += left + " " + std::string(o->help) + "\n";
  }
  return s;
}

}  // namespace turnpike::config
