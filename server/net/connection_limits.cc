#include "net/connection_limits.h"

#include <cstdint>
#include <cstring>

namespace turnpike::net {

const char* connection_cap_option(ConnectionCap c) {
  switch (c) {
    case ConnectionCap::PerAddress:
      return "max-connections-per-ip";
    case ConnectionCap::PerIpv6Prefix:
      return "max-connections-per-ipv6-64";
    case ConnectionCap::Total:
      return "max-connections";
    case ConnectionCap::None:
      break;
  }
  return "none";
}

std::optional<core::IpAddress> ConnectionLimits::ipv6_64_of(const core::IpAddress& ip) {
  if (!ip.is_v6()) return std::nullopt;
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(ip.data(), kMapped, sizeof kMapped) == 0) return std::nullopt;
  uint8_t b[16] = {};
  std::memcpy(b, ip.data(), 8);
  return core::IpAddress::v6(b);
}

std::optional<ConnectionLimits::Slot> ConnectionLimits::acquire(const core::IpAddress& ip,
                                                                ConnectionCap* refused) {
  const auto refuse = [&](ConnectionCap c) -> std::optional<Slot> {
    if (refused) *refused = c;
    return std::nullopt;
  };
  const std::optional<core::IpAddress> prefix = ipv6_64_of(ip);
  std::lock_guard lock(mu_);
  auto it = counts_.find(ip);
  const unsigned here = it == counts_.end() ? 0 : it->second;
  if (caps_.per_address && here >= caps_.per_address) return refuse(ConnectionCap::PerAddress);
  unsigned in_prefix = 0;
  if (prefix) {
    auto p = prefixes_.find(*prefix);
    in_prefix = p == prefixes_.end() ? 0 : p->second;
    if (caps_.per_ipv6_64 && in_prefix >= caps_.per_ipv6_64) {
      return refuse(ConnectionCap::PerIpv6Prefix);
    }
  }
  if (caps_.total && total_ >= caps_.total) {
    // The newcomer reserve: only for an address (and /64) that holds nothing yet.
    const bool newcomer = here == 0 && in_prefix == 0;
    if (!newcomer || total_ >= caps_.total + caps_.newcomer_reserve) {
      return refuse(ConnectionCap::Total);
    }
  }
  ++counts_[ip];
  if (prefix) ++prefixes_[*prefix];
  ++total_;
  if (refused) *refused = ConnectionCap::None;
  return Slot(this, ip);
}

void ConnectionLimits::release(const core::IpAddress& ip) {
  std::lock_guard lock(mu_);
  auto it = counts_.find(ip);
  if (it == counts_.end()) return;
  if (--it->second == 0) counts_.erase(it);
  --total_;
  if (auto prefix = ipv6_64_of(ip)) {
    auto p = prefixes_.find(*prefix);
    if (p != prefixes_.end() && --p->second == 0) prefixes_.erase(p);
  }
}

unsigned ConnectionLimits::count(const core::IpAddress& ip) const {
  std::lock_guard lock(mu_);
  auto it = counts_.find(ip);
  return it == counts_.end() ? 0 : it->second;
}

unsigned ConnectionLimits::count_ipv6_64(const core::IpAddress& ip) const {
  const auto prefix = ipv6_64_of(ip);
  if (!prefix) return 0;
  std::lock_guard lock(mu_);
  auto it = prefixes_.find(*prefix);
  return it == prefixes_.end() ? 0 : it->second;
}

std::string ConnectionLimits::refusal_text(ConnectionCap c) const {
  const unsigned n = c == ConnectionCap::PerAddress      ? caps_.per_address
                     : c == ConnectionCap::PerIpv6Prefix ? caps_.per_ipv6_64
                                                         : caps_.total;
  return std::string(connection_cap_option(c)) + " (" + std::to_string(n) + ") reached";
}

unsigned ConnectionLimits::total() const {
  std::lock_guard lock(mu_);
  return total_;
}

}  // namespace turnpike::net
