// How many TCP, TLS and DTLS connections one client address may hold at once, across all
// workers (attack list item 28: a bounded per-address connection count). Taken on accept (or,
// behind a proxy, once the PROXY header names the client) and given back when the connection
// goes; never touched on the relay path.
#pragma once

#include <cstddef>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>

#include "core/ip_address.h"

namespace turnpike::net {

class ConnectionLimits {
 public:
  // Holds one connection's place; gives it back when destroyed.
  class Slot {
   public:
    Slot() = default;
    Slot(Slot&& o) noexcept : owner_(std::exchange(o.owner_, nullptr)), ip_(o.ip_) {}
    Slot& operator=(Slot&& o) noexcept {
      if (this != &o) {
        release();
        owner_ = std::exchange(o.owner_, nullptr);
        ip_ = o.ip_;
      }
      return *this;
    }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { release(); }

   private:
    friend class ConnectionLimits;
    Slot(ConnectionLimits* owner, const core::IpAddress& ip) : owner_(owner), ip_(ip) {}
    void release() {
      if (owner_) owner_->release(ip_);
      owner_ = nullptr;
    }
    ConnectionLimits* owner_ = nullptr;
    core::IpAddress ip_;
  };

  // 0: no limit (connections are still counted).
  void set_per_address(unsigned n) { per_address_ = n; }
  unsigned per_address() const { return per_address_; }

  // std::nullopt when `ip` already holds per_address() connections.
  std::optional<Slot> acquire(const core::IpAddress& ip);
  unsigned count(const core::IpAddress& ip) const;

 private:
  void release(const core::IpAddress& ip);
  struct Hash {
    size_t operator()(const core::IpAddress& a) const { return a.hash(); }
  };
  unsigned per_address_ = 0;  // set before the workers start
  mutable std::mutex mu_;
  std::unordered_map<core::IpAddress, unsigned, Hash> counts_;
};

}  // namespace turnpike::net
