// Files holding a secret (static-auth-secret or user= lines, the TLS private key) that users
// other than the owner and the group can read: each gets one warning at start, saying what to
// run. Whoever reads the REST secret can mint credentials for anyone; whoever reads the key can
// impersonate the relay.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"

namespace turnpike::config {

// One line per such file: "FILE holds the static-auth-secret and is readable by every user
// (mode 0644): chmod o-rwx FILE".
std::vector<std::string> exposed_secret_files(const Config& c);

}  // namespace turnpike::config
