#include "net/connection_limits.h"

namespace turnpike::net {

std::optional<ConnectionLimits::Slot> ConnectionLimits::acquire(const core::IpAddress& ip) {
  std::lock_guard lock(mu_);
  unsigned& n = counts_[ip];
  if (per_address_ && n >= per_address_) return std::nullopt;
  ++n;
  return Slot(this, ip);
}

void ConnectionLimits::release(const core::IpAddress& ip) {
  std::lock_guard lock(mu_);
  auto it = counts_.find(ip);
  if (it == counts_.end()) return;
  if (--it->second == 0) counts_.erase(it);
}

unsigned ConnectionLimits::count(const core::IpAddress& ip) const {
  std::lock_guard lock(mu_);
  auto it = counts_.find(ip);
  return it == counts_.end() ? 0 : it->second;
}

}  // namespace turnpike::net
