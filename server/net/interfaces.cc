#include "net/interfaces.h"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstdint>
#include <optional>

#include "core/socket_address.h"

namespace turnpike::net {

std::vector<core::IpAddress> local_addresses() {
  std::vector<core::IpAddress> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr || !(i->ifa_flags & IFF_UP)) continue;
    const socklen_t len =
        i->ifa_addr->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    auto a = core::SocketAddress::from_sockaddr(i->ifa_addr, len);
    if (!a) continue;
    const core::IpAddress ip = a->ip();
    if (ip.is_v6() && ip.data()[0] == 0xfe && (ip.data()[1] & 0xc0) == 0x80) continue;
    if (std::find(out.begin(), out.end(), ip) == out.end()) out.push_back(ip);
  }
  freeifaddrs(list);
  return out;
}

}  // namespace turnpike::net
