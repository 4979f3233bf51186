// turnpike-admin secret generate: a new random shared secret for static-auth-secret.
#include <cstdint>
#include <iostream>
#include <string>

#include "cmd/admin_commands.h"
#include "core/random.h"

namespace turnpike::cmd {

int admin_secret(int argc, char** argv) {
  if (argc < 3 || std::string(argv[2]) != "generate") {
    std::cerr << "usage: turnpike-admin secret generate\n";
    return 2;
  }
  // 40 alphanumeric characters (about 238 bits): safe in any config syntax, no quoting needed.
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string secret;
  while (secret.size() < 40) {
    uint8_t b;
    core::random_bytes(&b, 1);
    if (b < 248) secret += kAlphabet[b % 62];  // 248 = 4 * 62: no modulo bias
  }
  std::cout << secret << "\n";
  return 0;
}

}  // namespace turnpike::cmd
