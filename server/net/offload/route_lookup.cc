#include "net/offload/route_lookup.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>

#include <cerrno>
#include <cstring>

namespace turnpike::net {

namespace {

void add_attribute(nlmsghdr* h, unsigned short type, const void* data, size_t len) {
  auto* a = reinterpret_cast<rtattr*>(reinterpret_cast<char*>(h) + NLMSG_ALIGN(h->nlmsg_len));
  a->rta_type = type;
  a->rta_len = RTA_LENGTH(len);
  std::memcpy(RTA_DATA(a), data, len);
  h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(a->rta_len);
}

}  // namespace

RouteLookup::RouteLookup() : fd_(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)) {
  // The kernel answers within the request; the timeout only bounds the impossible case.
  const timeval limit{0, 200'000};
  setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
}

int RouteLookup::egress_ifindex(const core::IpAddress& dst, const core::IpAddress& src,
                                int64_t now_ms) {
  const Key key{dst, src};
  if (auto it = kept_.find(key); it != kept_.end() && it->second.until_ms > now_ms) {
    return it->second.ifindex;
  }
  const int ifindex = ask(dst, src);
  if (kept_.size() >= kMaxKept) kept_.clear();
  kept_[key] = {ifindex, now_ms + kKeepMs};
  return ifindex;
}

int RouteLookup::ask(const core::IpAddress& dst, const core::IpAddress& src) {
  if (!fd_ || dst.family() != src.family()) return 0;
  alignas(nlmsghdr) char request[NLMSG_SPACE(sizeof(rtmsg)) + 2 * RTA_SPACE(16)] = {};
  auto* h = reinterpret_cast<nlmsghdr*>(request);
  h->nlmsg_len = NLMSG_LENGTH(sizeof(rtmsg));
  h->nlmsg_type = RTM_GETROUTE;
  h->nlmsg_flags = NLM_F_REQUEST;
  h->nlmsg_seq = ++seq_;
  auto* rt = static_cast<rtmsg*>(NLMSG_DATA(h));
  rt->rtm_family = dst.is_v4() ? AF_INET : AF_INET6;
  rt->rtm_dst_len = uint8_t(dst.size() * 8);
  rt->rtm_src_len = uint8_t(src.size() * 8);
  add_attribute(h, RTA_DST, dst.data(), dst.size());
  add_attribute(h, RTA_SRC, src.data(), src.size());
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd_.get(), request, h->nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel),
               sizeof kernel) < 0) {
    return 0;
  }
  alignas(nlmsghdr) char reply[4096];
  for (;;) {
    ssize_t n = ::recv(fd_.get(), reply, sizeof reply, 0);
    if (n <= 0) return 0;
    for (auto* r = reinterpret_cast<nlmsghdr*>(reply); NLMSG_OK(r, size_t(n));
         r = NLMSG_NEXT(r, n)) {
      if (r->nlmsg_seq != seq_) continue;  // an answer to an earlier question that timed out
      if (r->nlmsg_type == NLMSG_ERROR || r->nlmsg_type != RTM_NEWROUTE) return 0;
      const auto* answer = static_cast<const rtmsg*>(NLMSG_DATA(r));
      // Only a unicast route leaves on an interface; RTN_LOCAL is this host (loopback).
      if (answer->rtm_type != RTN_UNICAST) return 0;
      int len = int(RTM_PAYLOAD(r));
      for (auto* a = RTM_RTA(answer); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        if (a->rta_type == RTA_OIF && RTA_PAYLOAD(a) >= sizeof(int)) {
          int oif;
          std::memcpy(&oif, RTA_DATA(a), sizeof oif);
          return oif;
        }
      }
      return 0;
    }
  }
}

}  // namespace turnpike::net
