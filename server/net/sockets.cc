#include "net/sockets.h"

#include <netinet/in.h>

namespace turnpike::net {

UniqueFd new_socket(core::Family f, int type, SocketOptions o) {
  const int family = f == core::Family::V4 ? AF_INET : AF_INET6;
  UniqueFd fd(::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return fd;
  const int one = 1;
  if (family == AF_INET6) setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (o.reuseaddr) setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (o.reuseport) setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  return fd;
}

bool bind_to(int fd, const core::SocketAddress& a) {
  sockaddr_storage ss;
  const socklen_t len = a.to_sockaddr(ss);
  return ::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0;
}

}  // namespace turnpike::net
