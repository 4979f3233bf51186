// external-ip=auto: ask a STUN server (RFC 8489 Binding) what our address looks like from
// outside. The request leaves from the relay address, so it crosses the NAT exactly as relayed
// traffic will. Runs once at start, before the workers: a plain blocking socket is fine here.
#pragma once

#include <optional>
#include <string>

#include "core/socket_address.h"

namespace turnpike::net {

// The reflexive address the server reports, or std::nullopt with `error` saying why (no answer
// within `timeout_ms`, after three tries).
std::optional<core::SocketAddress> probe_public_address(const core::IpAddress& from,
                                                        const core::SocketAddress& stun_server,
                                                        int timeout_ms, std::string* error);

}  // namespace turnpike::net
