// turnpike-admin reload [--binary]: tells the running daemon, found by its pidfile, to reload
// (SIGHUP) or to hand over to a fresh copy of its binary (SIGURG; DESIGN.md "Restart and upgrade
// without dropping calls") and waits for the outcome, so that a package's postinst can fall back
// to a restart when the hand-over did not happen.
#include <signal.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

#include "cmd/admin_args.h"
#include "cmd/admin_commands.h"
#include "config/config_parser.h"

namespace turnpike::cmd {
namespace {

constexpr const char* kUsage =
    "usage: turnpike-admin reload [--binary] [-c FILE | --pidfile FILE] [--timeout SECONDS]\n"
    "\n"
    "Without --binary: the daemon re-reads secrets, users and certificates (SIGHUP).\n"
    "With --binary: it hands its sockets and UDP allocations over to a fresh copy of its binary\n"
    "(SIGURG), for example after an upgrade, and this waits until the new process has taken over\n"
    "(exit 0) or the old one is still running after SECONDS (default 45; exit 1: it refused, and\n"
    "its log says why, or it cannot hand over: restart it). The daemon is found by the pidfile=\n"
    "of FILE (default /etc/turnpike/turnpike.conf) or --pidfile.\n";

int read_pid(const std::string& path) {
  std::ifstream f(path);
  int pid = 0;
  if (!(f >> pid) || pid <= 1) return 0;
  return pid;
}

// Running, and not a zombie waiting for its parent.
bool running(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return false;
  const size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] != 'Z';
}

}  // namespace

int admin_reload(int argc, char** argv) {
  const AdminArgs a = AdminArgs::parse(argc, argv, 2, {"config", "pidfile", "timeout"});
  if (!a.error.empty() || !a.positional.empty()) {
    std::cerr << (a.error.empty() ? "" : "turnpike-admin: " + a.error + "\n") << kUsage;
    return 2;
  }
  if (a.has("help")) {
    std::cout << kUsage;
    return 0;
  }
  std::string pidfile;
  if (auto p = a.get("pidfile")) {
    pidfile = *p;
  } else {
    const std::string path = a.get("config").value_or("/etc/turnpike/turnpike.conf");
    config::Config cfg;
    if (auto e = config::parse_config_file(path, cfg)) {
      std::cerr << "turnpike-admin: " << e->to_string() << "\n";
      return 1;
    }
    if (cfg.pidfile.empty()) {
      std::cerr << "turnpike-admin: " << path
                << " has no pidfile= line: give the daemon's pidfile with --pidfile\n";
      return 1;
    }
    pidfile = cfg.pidfile;
  }
  int timeout_s = 45;
  if (auto t = a.get("timeout")) {
    if (t->empty() || t->size() > 5 || t->find_first_not_of("0123456789") != std::string::npos) {
      std::cerr << "turnpike-admin: --timeout " << *t << ": a number of seconds\n";
      return 2;
    }
    timeout_s = std::stoi(*t);
  }
  const int pid = read_pid(pidfile);
  if (!pid || !running(pid)) {
    std::cerr << "turnpike-admin: no turnpike running (pidfile " << pidfile << ")\n";
    return 1;
  }
  if (!a.has("binary")) {
    if (::kill(pid, SIGHUP) != 0) {
      std::cerr << "turnpike-admin: cannot signal process " << pid << "\n";
      return 1;
    }
    std::cout << "asked process " << pid << " to reload\n";
    return 0;
  }
  if (::kill(pid, SIGURG) != 0) {
    std::cerr << "turnpike-admin: cannot signal process " << pid << "\n";
    return 1;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const int now = read_pid(pidfile);
    if (!running(pid)) {
      if (now && now != pid && running(now)) {
        std::cout << "handed over: process " << pid << " -> " << now << "\n";
        return 0;
      }
      std::cerr << "turnpike-admin: process " << pid
                << " exited and no new process took over: start turnpike again\n";
      return 1;
    }
  }
  std::cerr << "turnpike-admin: process " << pid << " is still running after " << timeout_s
            << " s: the hand-over was refused (its log says why) or is not supported by it; "
               "restart it instead\n";
  return 1;
}

}  // namespace turnpike::cmd
