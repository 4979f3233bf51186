// The machine's own addresses, for "listen everywhere" (coturn binds each address separately,
// so answers leave from the address the client reached).
#pragma once

#include <vector>

#include "core/ip_address.h"

namespace turnpike::net {

// Every IPv4 and global/ULA IPv6 address of interfaces that are up (IPv6 link-local addresses
// need a scope and are left out).
std::vector<core::IpAddress> local_addresses();

}  // namespace turnpike::net
