#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "loadgen/session.h"

namespace bench {

bool open_client_sockets(std::vector<Session>& sessions, unsigned n, unsigned ips, unsigned net,
                         uint32_t prefix, const turnpike::core::SocketAddress& server, int rcvbuf,
                         std::string* error) {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  sockaddr_storage to;
  const socklen_t to_len = server.to_sockaddr(to);
  sessions.resize(n);
  for (unsigned i = 0; i < n; ++i) {
    Session& s = sessions[i];
    s.index = i;
    s.fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s.fd < 0) {
      *error = std::string("socket(): ") + std::strerror(errno) + " (open-file limit too low?)";
      return false;
    }
    setsockopt(s.fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    setsockopt(s.fd, SOL_SOCKET, SO_SNDBUF, &rcvbuf, sizeof rcvbuf);
    const unsigned j = i % ips;
    sockaddr_in local{};
    local.sin_family = AF_INET;
    local.sin_addr.s_addr =
        prefix ? htonl(prefix | ((j / 250) << 8) | (2 + j % 250))
               : htonl((127u << 24) | (net << 16) | ((j / 250) << 8) | (1 + j % 250));
    if (::bind(s.fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
        ::connect(s.fd, reinterpret_cast<sockaddr*>(&to), to_len) != 0) {
      *error = std::string("bind/connect client socket: ") + std::strerror(errno);
      return false;
    }
  }
  return true;
}

void close_client_sockets(std::vector<Session>& sessions) {
  for (auto& s : sessions) {
    if (s.fd >= 0) ::close(s.fd);
    s.fd = -1;
  }
}

}  // namespace bench
