// An IP address and port. Converts to and from struct sockaddr (a data layout, no I/O).
#pragma once

#include <sys/socket.h>

#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/ip_address.h"

namespace turnpike::core {

class SocketAddress {
 public:
  SocketAddress() = default;
  SocketAddress(IpAddress ip, uint16_t port) : ip_(ip), port_(port) {}

  // "192.0.2.1:3478", "[2001:db8::1]:3478". No DNS.
  static std::optional<SocketAddress> parse(std::string_view text);
  static std::optional<SocketAddress> from_sockaddr(const sockaddr* sa, socklen_t len);

  const IpAddress& ip() const { return ip_; }
  uint16_t port() const { return port_; }
  Family family() const { return ip_.family(); }
  void set_port(uint16_t p) { port_ = p; }

  // Fills `out` and returns the length to pass to the socket call.
  socklen_t to_sockaddr(sockaddr_storage& out) const;
  std::string to_string() const;

  friend bool operator==(const SocketAddress&, const SocketAddress&) = default;
  friend std::strong_ordering operator<=>(const SocketAddress&, const SocketAddress&) = default;
  size_t hash() const { return ip_.hash() * 31 + port_; }

 private:
  IpAddress ip_;
  uint16_t port_ = 0;
};

struct SocketAddressHash {
  size_t operator()(const SocketAddress& a) const { return a.hash(); }
};

}  // namespace turnpike::core
