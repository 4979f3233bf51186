// Wiring: from the parsed configuration to what the relay service and the relay state machine
// take. Nothing is decided here that the configuration does not say.
#pragma once

#include <string>

#include "config/config.h"
#include "ledger/ledger_writer.h"
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

}  // namespace turnpike::cmd
