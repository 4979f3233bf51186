// Socket set-up shared by every listener, relay socket and peer connection: non-blocking,
// close-on-exec, and IPv6 sockets IPv6-only (an IPv4 address is always served by its own
// socket, so an IPv6 one never sees IPv4-mapped clients).
#pragma once

#include <sys/socket.h>

#include "core/ip_address.h"
#include "core/socket_address.h"
#include "net/unique_fd.h"

namespace turnpike::net {

struct SocketOptions {
  bool reuseaddr = false;  // SO_REUSEADDR: rebind right after a restart (TIME_WAIT)
  bool reuseport = false;  // SO_REUSEPORT: one socket per worker on the same address
};

// SOCK_DGRAM or SOCK_STREAM of family `f`; an invalid fd (errno set) when socket() fails.
UniqueFd new_socket(core::Family f, int type, SocketOptions o = {});
bool bind_to(int fd, const core::SocketAddress& a);  // false with errno set

}  // namespace turnpike::net
