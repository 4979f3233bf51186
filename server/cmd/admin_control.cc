// turnpike-admin status | disconnect | drain: live state and control over the running relay's
// control socket (net/control_io.h, core/control_message.h). The socket is --socket PATH, else
// the control-socket= of -c FILE (default /etc/turnpike/turnpike.conf), else the built-in default.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include <cstdlib>
#include <iostream>
#include <optional>
#include <set>
#include <string>

#include "cmd/admin_args.h"
#include "cmd/admin_commands.h"
#include "config/config_parser.h"
#include "core/control_message.h"
#include "net/control_io.h"

namespace turnpike::cmd {
namespace {

constexpr const char* kDefaultConfig = "/etc/turnpike/turnpike.conf";
constexpr int kTimeoutMs = 15000;

const std::set<std::string> kValueOptions = {"config", "socket", "user", "session", "client"};

std::optional<std::string> socket_path(const AdminArgs& a, std::string* error) {
  if (auto p = a.get("socket")) return *p;
  std::string file = a.get("config").value_or("");
  struct stat st {};
  if (file.empty() && ::stat(kDefaultConfig, &st) == 0) file = kDefaultConfig;
  config::Config cfg;
  if (!file.empty()) {
    if (auto err = config::parse_config_file(file, cfg)) {
      *error = err->to_string();
      return std::nullopt;
    }
    if (cfg.control_socket.empty()) {
      *error = file + " says control-socket=none: the running turnpike has no control socket";
      return std::nullopt;
    }
  }
  return cfg.control_socket;
}

// Sends the request; prints the answer's error and returns std::nullopt when it failed.
std::optional<core::ControlMessage> ask(const AdminArgs& a, const core::ControlMessage& req,
                                        int* exit_code) {
  std::string err;
  auto path = socket_path(a, &err);
  *exit_code = 1;
  if (!path) {
    std::cerr << "turnpike-admin: " << err << "\n";
    return std::nullopt;
  }
  auto answer = net::control_request(*path, req, kTimeoutMs, &err);
  if (!answer) {
    std::cerr << "turnpike-admin: " << err << "\n";
    return std::nullopt;
  }
  if (!answer->is_ok()) {
    const std::string* why = answer->get("error");
    std::cerr << "turnpike-admin: " << escape_text(why ? *why : "the relay refused the request")
              << "\n";
    return std::nullopt;
  }
  *exit_code = 0;
  return answer;
}

std::optional<AdminArgs> parse(int argc, char** argv) {
  AdminArgs a = AdminArgs::parse(argc, argv, 2, kValueOptions);
  if (!a.error.empty()) {
    std::cerr << "turnpike-admin: " << a.error << "\n";
    return std::nullopt;
  }
  return a;
}

// Every field but `ok`, as a JSON object (numbers stay strings: the same figures as /metrics,
// which a script reads with tonumber) or as "name value" lines.
void print(const core::ControlMessage& m, bool json) {
  if (json) {
    std::string out = "{";
    bool first = true;
    for (const auto& [n, v] : m.fields) {
      if (n == "ok") continue;
      out += std::string(first ? "" : ",") + json_string(n) + ":" + json_string(v);
      first = false;
    }
    std::cout << out << "}\n";
    return;
  }
  size_t width = 0;
  for (const auto& [n, v] : m.fields) width = std::max(width, n.size());
  for (const auto& [n, v] : m.fields) {
    if (n == "ok") continue;
    std::cout << n << std::string(width + 2 - n.size(), ' ') << escape_text(v) << "\n";
  }
}

}  // namespace

int admin_status(int argc, char** argv) {
  auto a = parse(argc, argv);
  if (!a) return 2;
  int rc = 1;
  if (auto answer = ask(*a, core::ControlMessage().add("command", "status"), &rc)) {
    print(*answer, a->has("json"));
  }
  return rc;
}

int admin_disconnect(int argc, char** argv) {
  auto a = parse(argc, argv);
  if (!a) return 2;
  core::ControlMessage req;
  req.add("command", "disconnect");
  for (const char* k : {"user", "session", "client"}) {
    if (auto v = a->get(k)) req.add(k, *v);
  }
  if (req.fields.size() == 1) {
    std::cerr << "turnpike-admin: disconnect needs --user U, --session ID or --client ADDRESS\n";
    return 2;
  }
  int rc = 1;
  if (auto answer = ask(*a, req, &rc)) {
    if (a->has("json")) {
      print(*answer, true);
    } else {
      const std::string* n = answer->get("ended");
      std::cout << (n ? *n : "0") << " allocation(s) ended (ledger end reason: disconnected)\n";
    }
  }
  return rc;
}

int admin_drain(int argc, char** argv) {
  auto a = parse(argc, argv);
  if (!a) return 2;
  int rc = 1;
  auto answer = ask(*a, core::ControlMessage().add("command", "drain"), &rc);
  if (!answer) return rc;
  const std::string* msg = answer->get("message");
  std::cout << escape_text(msg ? *msg : "draining") << "\n";
  if (!a->has("wait")) return 0;
  // --wait: until the relay has exited (its control socket goes away with it).
  std::string err;
  auto path = socket_path(*a, &err);
  for (;;) {
    auto s = net::control_request(*path, core::ControlMessage().add("command", "status"),
                                  kTimeoutMs, &err);
    if (!s) break;
    const std::string* left = s->get("allocations");
    std::cout << "  " << (left ? *left : "?") << " allocation(s) left\n" << std::flush;
    ::sleep(2);
  }
  std::cout << "turnpike has exited\n";
  return 0;
}

}  // namespace turnpike::cmd
