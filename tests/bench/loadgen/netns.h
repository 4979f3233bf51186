// Joining a network namespace from inside the load generator (setns(2), this thread only).
// `ip netns exec` would remount /sys for the whole process; setns changes only where the sockets
// opened afterwards live, and a socket stays in its namespace whatever thread uses it later.
#pragma once

#include <string>

namespace bench {

// `name_or_path`: a name from `ip netns add` (/run/netns/NAME) or a path such as
// /proc/PID/ns/net. Returns false with a message.
bool enter_netns(const std::string& name_or_path, std::string* error);

}  // namespace bench
