// How many TCP, TLS and DTLS connections the server holds at once, across all workers: in
// total, per client address, and per IPv6 /64 (whoever attacks from IPv6 owns a /64, not one
// address; RFC 6177 hands /48 to /64 to a site). Taken on accept (or, behind a proxy, once the
// PROXY header names the client) and given back when the connection goes; never touched on the
// relay path.
//
// The total cap keeps the descriptors of a stream flood from many addresses away from the
// rest (descriptor_limit.h). Past it, an address that holds no connection yet (and whose /64
// holds none) may still connect, up to `newcomer_reserve` more: a flood that reached the total
// still leaves room for a new TLS client, while one address cannot use the reserve at all.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "core/ip_address.h"

namespace turnpike::net {

// Which cap refused a connection.
enum class ConnectionCap : uint8_t { None, PerAddress, PerIpv6Prefix, Total };
// The option that sets it ("max-connections-per-ip", ...).
const char* connection_cap_option(ConnectionCap c);

class ConnectionLimits {
 public:
  struct Caps {
    unsigned per_address = 0;    // max-connections-per-ip; 0: no limit
    unsigned per_ipv6_64 = 0;    // max-connections-per-ipv6-64; 0: no limit
    unsigned total = 0;          // max-connections; 0: no limit
    unsigned newcomer_reserve = 0;  // beyond `total`, for addresses holding none
  };

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

  // Set before the workers start.
  void set_caps(const Caps& c) { caps_ = c; }
  const Caps& caps() const { return caps_; }
  void set_per_address(unsigned n) { caps_.per_address = n; }
  unsigned per_address() const { return caps_.per_address; }

  // std::nullopt when a cap is reached; `refused` (if given) says which.
  std::optional<Slot> acquire(const core::IpAddress& ip, ConnectionCap* refused = nullptr);
  unsigned count(const core::IpAddress& ip) const;
  unsigned count_ipv6_64(const core::IpAddress& ip) const;
  unsigned total() const;
  // "max-connections-per-ip (512) reached": for the log line of a refusal.
  std::string refusal_text(ConnectionCap c) const;

  // The /64 an IPv6 address belongs to, as an address with the interface identifier zeroed;
  // std::nullopt for IPv4 and IPv4-mapped addresses (counted per address only).
  static std::optional<core::IpAddress> ipv6_64_of(const core::IpAddress& ip);

 private:
  void release(const core::IpAddress& ip);
  struct Hash {
    size_t operator()(const core::IpAddress& a) const { return a.hash(); }
  };
  Caps caps_;
  mutable std::mutex mu_;
  unsigned total_ = 0;
  std::unordered_map<core::IpAddress, unsigned, Hash> counts_;
  std::unordered_map<core::IpAddress, unsigned, Hash> prefixes_;
};

}  // namespace turnpike::net
