// turnpike-admin: secrets, credentials, and (with the ledger) what happened and why.
#include <iostream>
#include <string>

#include "cmd/admin_commands.h"

using namespace turnpike::cmd;

namespace {

constexpr const char* kUsage =
    "usage: turnpike-admin COMMAND ...\n"
    "\n"
    "  secret generate                      print a new random shared secret\n"
    "  credentials -c FILE [--user NAME] [--ttl SECONDS] [--json]\n"
    "                                       mint TURN REST credentials from FILE's newest secret\n"
    "  sessions [--active] [--user U] [--since T] [--json]\n"
    "                                       relay sessions: who, from where, relayed where, how "
    "much\n"
    "  refusals [--since T] [--json]        refused requests and why (wrong secret, expired, "
    "peer...)\n"
    "  who JID|USERNAME [--json]            the credentials an XMPP user was given and the "
    "sessions\n"
    "                                       made with them\n"
    "  stats [--since T] [--json]           sessions, bytes, top users, refusals by reason\n"
    "  probe URL... | --xmpp JID [...]      test STUN/TURN URLs step by step as a client would,\n"
    "                                       and say which clients they serve (probe --help)\n"
    "  check-link [-c FILE] [--ttl 1h] [--note TEXT] [--url BASE] [--json]\n"
    "                                       a one-time link that tests a user's own network in\n"
    "                                       their browser (the relay's check-listening-port)\n"
    "  checks [--since T] [--json]          what those links found: per way to the relay, works\n"
    "                                       or blocked, RTT, the browser\n"
    "  reload [--binary] [-c FILE | --pidfile FILE] [--timeout S]\n"
    "                                       reload the daemon, or (--binary) hand it over to a\n"
    "                                       fresh copy of its binary without dropping calls\n"
    "\n"
    "  status [--json]                      the running relay's live figures (as /metrics):\n"
    "                                       allocations, per worker, bytes, refusals, ledger\n"
    "  disconnect --user U | --session ID | --client ADDRESS[:PORT]\n"
    "                                       end those allocations now (end reason disconnected)\n"
    "  drain [--wait]                       refuse new allocations, keep the running ones, exit\n"
    "                                       when the last ends (as SIGUSR1)\n"
    "\n"
    "The ledger commands read the file named by --ledger PATH, or the ledger= of -c FILE\n"
    "(default /etc/turnpike/turnpike.conf). T is 2h, 7d, 2026-11-22, 2026-11-22T10:00:00Z or\n"
    "unix seconds. Times are shown in UTC.\n"
    "status, disconnect and drain talk to the running relay over its control socket: --socket\n"
    "PATH, or the control-socket= of -c FILE (default /run/turnpike/control; root or group\n"
    "turnpike).\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string command = argv[1];
  if (command == "secret") return admin_secret(argc, argv);
  if (command == "credentials") return admin_credentials(argc, argv);
  if (command == "sessions") return admin_sessions(argc, argv);
  if (command == "refusals") return admin_refusals(argc, argv);
  if (command == "who") return admin_who(argc, argv);
  if (command == "stats") return admin_stats(argc, argv);
  if (command == "probe") return admin_probe(argc, argv);
  if (command == "check-link") return admin_check_link(argc, argv);
  if (command == "checks") return admin_checks(argc, argv);
  if (command == "reload") return admin_reload(argc, argv);
  if (command == "status") return admin_status(argc, argv);
  if (command == "disconnect") return admin_disconnect(argc, argv);
  if (command == "drain") return admin_drain(argc, argv);
  if (command == "-h" || command == "--help" || command == "help") {
    std::cout << kUsage;
    return 0;
  }
  std::cerr << "turnpike-admin: unknown command '" << command << "'\n" << kUsage;
  return 2;
}
