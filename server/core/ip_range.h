// Inclusive address ranges, as coturn's denied-peer-ip/allowed-peer-ip take them:
//   "10.0.0.0-10.255.255.255", "10.0.0.0/8", "2001:db8::/32", "192.0.2.7".
// IPv6 ranges compare lexicographically over all 16 bytes (coturn once compared only part of the
// address and under-blocked, upstream commit 6c13608c).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/ip_address.h"

namespace turnpike::core {

class IpRange {
 public:
  IpRange(IpAddress first, IpAddress last) : first_(first), last_(last) {}
  static std::optional<IpRange> parse(std::string_view text);
  static IpRange cidr(IpAddress base, unsigned prefix_len);

  bool contains(const IpAddress& a) const;
  Family family() const { return first_.family(); }
  const IpAddress& first() const { return first_; }
  const IpAddress& last() const { return last_; }
  std::string to_string() const;

 private:
  IpAddress first_;
  IpAddress last_;
};

}  // namespace turnpike::core
