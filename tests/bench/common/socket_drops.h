// Datagrams the kernel dropped on one socket because its receive buffer was full
// (SO_MEMINFO, Linux >= 4.12: sk_meminfo[SK_MEMINFO_DROPS]).
#pragma once

#include <linux/sock_diag.h>
#include <sys/socket.h>

#include <cstdint>

namespace bench {

inline uint64_t socket_drops(int fd) {
  uint32_t info[SK_MEMINFO_VARS] = {};
  socklen_t len = sizeof info;
  if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, info, &len) != 0 ||
      len < sizeof(uint32_t) * (SK_MEMINFO_DROPS + 1)) {
    return 0;
  }
  return info[SK_MEMINFO_DROPS];
}

}  // namespace bench
