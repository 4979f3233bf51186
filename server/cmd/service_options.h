// Wiring: from the parsed configuration to what the relay service and the relay state machine
// take. Nothing is decided here that the configuration does not say.
#pragma once

#include <string>

#include "config/config.h"
#include "net/relay_service.h"
#include "relay/credentials.h"

namespace turnpike::cmd {

relay::CredentialsPtr make_credentials(const config::Config& c);
net::ServiceOptions make_service_options(const config::Config& c);
net::TlsFiles make_tls_files(const config::Config& c);

}  // namespace turnpike::cmd
