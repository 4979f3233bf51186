#include "relay/quota.h"

#include <utility>

namespace turnpike::relay {

QuotaBook::Result QuotaBook::acquire(std::string_view key) {
  std::lock_guard lock(mu_);
  if (total_ && in_use_ >= total_) return Result::TotalQuota;
  unsigned& n = by_user_[std::string(key)];
  if (per_user_ && n >= per_user_) {
    if (n == 0) by_user_.erase(std::string(key));
    return Result::UserQuota;
  }
  ++n;
  ++in_use_;
  return Result::Ok;
}

void QuotaBook::release(std::string_view key) {
  std::lock_guard lock(mu_);
  auto it = by_user_.find(std::string(key));
  if (it == by_user_.end()) return;
  if (--it->second == 0) by_user_.erase(it);
  --in_use_;
}

void QuotaBook::add_existing(std::string_view key) {
  std::lock_guard lock(mu_);
  ++by_user_[std::string(key)];
  ++in_use_;
}

unsigned QuotaBook::total_in_use() const {
  std::lock_guard lock(mu_);
  return in_use_;
}

void QuotaBook::set_limits(unsigned per_user, unsigned total) {
  std::lock_guard lock(mu_);
  per_user_ = per_user;
  total_ = total;
}

}  // namespace turnpike::relay
