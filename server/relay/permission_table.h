// An allocation's permissions (RFC 8656 §9), by peer IP address: one keyed open-addressed table
// (relay/open_table.h), so the check on every relayed packet costs the same at 1 permission or
// at max-permissions.
#pragma once

#include <cstdint>

#include "relay/open_table.h"
#include "relay/traffic_counters.h"
#include "relay/types.h"

namespace turnpike::relay {

// RFC 8656 §9: permissions are per peer IP address (the port does not matter).
struct Permission {
  IpAddress peer;
  int64_t expires_ms = 0;
  TrafficCounters to_peer;    // relayed from the client to this peer
  TrafficCounters from_peer;  // relayed from this peer to the client
};

struct PermissionPeer {
  using Key = IpAddress;
  static const IpAddress& key(const Permission& p) { return p.peer; }
};

using PermissionTable = OpenTable<Permission, PermissionPeer>;

}  // namespace turnpike::relay
