// turnpike-admin's subcommands. Each returns the process exit status.
#pragma once

namespace turnpike::cmd {

int admin_secret(int argc, char** argv);       // secret generate
int admin_credentials(int argc, char** argv);  // credentials -c FILE --user NAME [--ttl S] [--json]

}  // namespace turnpike::cmd
