#include "net/udp.h"

#include <algorithm>

#include <fcntl.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>

namespace turnpike::net {

UniqueFd open_udp(const core::SocketAddress& addr, bool reuseport, std::string* error) {
  UniqueFd fd = new_socket(addr.ip().family(), SOCK_DGRAM, {.reuseport = reuseport});
  if (!fd) {
    if (error) *error = std::string("socket(): ") + std::strerror(errno);
    return UniqueFd();
  }
  if (!bind_to(fd.get(), addr)) {
    if (error) *error = "cannot bind " + addr.to_string() + "/udp: " + std::strerror(errno);
    return UniqueFd();
  }
  return fd;
}

void set_receive_buffer(int fd, int bytes) {
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
}

UniqueFd open_udp_listener(const core::SocketAddress& addr, std::string* error) {
  UniqueFd fd = open_udp(addr, true, error);
  if (!fd) return fd;
  const int size = 4 << 20;
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  return fd;
}

bool set_dont_fragment(int fd, core::Family f) {
  if (f == core::Family::V4) {
    const int v = IP_PMTUDISC_DO;
    return setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof v) == 0;
  }
  const int one = 1;
  return setsockopt(fd, IPPROTO_IPV6, IPV6_DONTFRAG, &one, sizeof one) == 0;
}

RecvBatch::RecvBatch() {
  for (unsigned i = 0; i < kCount; ++i) {
    iov[i].iov_len = kMaxPayload;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = &addrs[i];
  }
}

int RecvBatch::receive(int fd) {
  // Never past the last slot, even if a caller forgot to flush kept slots first (full()).
  const unsigned count = std::min(kCount, kSlots - first_);
  for (unsigned i = 0; i < count; ++i) {
    iov[i].iov_base = payload(i);
    msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
    msgs[i].msg_hdr.msg_flags = 0;
  }
  if (count == 0) return 0;
  const int n = ::recvmmsg(fd, msgs.data(), count, MSG_DONTWAIT, nullptr);
  return n < 0 ? 0 : n;
}

bool send_datagram(int fd, const core::SocketAddress& to, core::Bytes data) {
  sockaddr_storage ss;
  const socklen_t len = to.to_sockaddr(ss);
  return ::sendto(fd, data.data(), data.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&ss),
                  len) == ssize_t(data.size());
}

}  // namespace turnpike::net
