// Concurrent allocation quotas shared by all workers: per user (RFC 8656 §7.2: 486 Allocation
// Quota Reached) and in total (508 Insufficient Capacity). Touched only when allocations are
// created and deleted, never on the relay path, so a mutex is fine here.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace turnpike::relay {

class QuotaBook {
 public:
  QuotaBook(unsigned per_user, unsigned total) : per_user_(per_user), total_(total) {}

  enum class Result : uint8_t { Ok, UserQuota, TotalQuota };
  Result acquire(std::string_view key);
  void release(std::string_view key);
  // Counts an allocation that exists already (one taken over from another process), over the
  // limits if need be: it was admitted under them.
  void add_existing(std::string_view key);
  unsigned total_in_use() const;
  void set_limits(unsigned per_user, unsigned total);

 private:
  mutable std::mutex mu_;
  unsigned per_user_;
  unsigned total_;
  unsigned in_use_ = 0;
  std::unordered_map<std::string, unsigned> by_user_;
};

}  // namespace turnpike::relay
