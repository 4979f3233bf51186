// Which interface the kernel sends a datagram on, asked of the kernel itself over rtnetlink
// (RTM_GETROUTE, what `ip route get DST from SRC` does). The fast path needs it: a packet it
// rewrites leaves with bpf_redirect_neigh() on a named interface (DESIGN.md "Kernel fast path").
// One per worker; each question is one request and one answer on a netlink socket, asked when a
// flow is installed or refreshed, never per packet. Answers are kept for a few seconds.
#pragma once

#include <cstdint>
#include <unordered_map>

#include "core/ip_address.h"
#include "net/unique_fd.h"

namespace turnpike::net {

class RouteLookup {
 public:
  RouteLookup();

  // The index of the interface a datagram from `src` (a local address) to `dst` leaves on; 0
  // when there is none: no route, an unreachable or prohibited destination, or a destination on
  // this host (a local route, delivered through loopback).
  int egress_ifindex(const core::IpAddress& dst, const core::IpAddress& src, int64_t now_ms);

 private:
  int ask(const core::IpAddress& dst, const core::IpAddress& src);

  struct Key {
    core::IpAddress dst, src;
    friend bool operator==(const Key&, const Key&) = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const { return k.dst.hash() * 31u ^ k.src.hash(); }
  };
  struct Answer {
    int ifindex;
    int64_t until_ms;
  };
  static constexpr int64_t kKeepMs = 5000;
  static constexpr size_t kMaxKept = 4096;

  UniqueFd fd_;
  uint32_t seq_ = 0;
  std::unordered_map<Key, Answer, KeyHash> kept_;
};

}  // namespace turnpike::net
