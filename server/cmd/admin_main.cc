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
    "                                       mint TURN REST credentials from FILE's newest secret\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string command = argv[1];
  if (command == "secret") return admin_secret(argc, argv);
  if (command == "credentials") return admin_credentials(argc, argv);
  if (command == "-h" || command == "--help" || command == "help") {
    std::cout << kUsage;
    return 0;
  }
  std::cerr << "turnpike-admin: unknown command '" << command << "'\n" << kUsage;
  return 2;
}
