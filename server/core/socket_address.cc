#include "core/socket_address.h"

#include <netinet/in.h>

#include <charconv>
#include <cstring>
#include <system_error>

namespace turnpike::core {

std::optional<SocketAddress> SocketAddress::parse(std::string_view text) {
  std::string_view host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) return std::nullopt;
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  auto ip = IpAddress::parse(host);
  if (!ip) return std::nullopt;
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
    return std::nullopt;
  }
  return SocketAddress(*ip, uint16_t(port));
}

std::optional<SocketAddress> SocketAddress::from_sockaddr(const sockaddr* sa, socklen_t len) {
  if (sa->sa_family == AF_INET && len >= socklen_t(sizeof(sockaddr_in))) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    return SocketAddress(IpAddress::v4(reinterpret_cast<const uint8_t*>(&in->sin_addr)),
                         ntohs(in->sin_port));
  }
  if (sa->sa_family == AF_INET6 && len >= socklen_t(sizeof(sockaddr_in6))) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    return SocketAddress(IpAddress::v6(in6->sin6_addr.s6_addr), ntohs(in6->sin6_port));
  }
  return std::nullopt;
}

socklen_t SocketAddress::to_sockaddr(sockaddr_storage& out) const {
  std::memset(&out, 0, sizeof out);
  if (ip_.is_v4()) {
    auto* in = reinterpret_cast<sockaddr_in*>(&out);
    in->sin_family = AF_INET;
    in->sin_port = htons(port_);
    std::memcpy(&in->sin_addr, ip_.data(), 4);
    return sizeof(sockaddr_in);
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&out);
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(port_);
  std::memcpy(&in6->sin6_addr, ip_.data(), 16);
  return sizeof(sockaddr_in6);
}

// Appended piece by piece: GCC 12 at -O2/-O3 reports a false -Wrestrict overlap for
// `"[" + std::string&&` (a known GCC 12 false positive), which would stop a -Werror build.
std::string SocketAddress::to_string() const {
  std::string out;
  out.reserve(48);
  if (ip_.is_v6()) out += '[';
  out += ip_.to_string();
  if (ip_.is_v6()) out += ']';
  out += ':';
  out += std::to_string(port_);
  return out;
}

}  // namespace turnpike::core
