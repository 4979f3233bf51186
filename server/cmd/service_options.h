// Wiring: from the parsed configuration to what the relay service and the relay state machine
// take. Nothing is decided here that the configuration does not say.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "ledger/ledger_writer.h"
#include "net/check_page.h"
#include "net/relay_service.h"
#include "relay/credentials.h"

namespace turnpike::cmd {

relay::CredentialsPtr make_credentials(const config::Config& c);
net::ServiceOptions make_service_options(const config::Config& c);
ledger::WriterOptions make_ledger_options(const config::Config& c);

// external-ip=auto: asks the configured STUN server for the public address of the relay
// addresses of its family and maps them to it. Logs what it learned, or why it learned nothing
// (then the private addresses are announced, as without external-ip).
void discover_external_ip(const config::Config& c, net::ServiceOptions& o);
net::TlsFiles make_tls_files(const config::Config& c);
// The check page (check-listening-port): the TURN URLs it offers, the secrets, the ledger.
net::CheckPageOptions make_check_page_options(const config::Config& c);
// Where the check page listens: check-listening-port on every listening address.
std::vector<core::SocketAddress> check_page_addresses(const config::Config& c);

}  // namespace turnpike::cmd
