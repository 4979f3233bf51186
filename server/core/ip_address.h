// An IPv4 or IPv6 address as a plain value. No I/O.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace turnpike::core {

enum class Family : uint8_t { V4 = 4, V6 = 6 };

class IpAddress {
 public:
  IpAddress() = default;  // 0.0.0.0
  static IpAddress v4(uint32_t host_order);
  static IpAddress v4(const uint8_t bytes[4]);
  static IpAddress v6(const uint8_t bytes[16]);
  // "192.0.2.1" or "2001:db8::1" (also "[2001:db8::1]"). No DNS.
  static std::optional<IpAddress> parse(std::string_view text);
  static IpAddress any(Family f);
  static IpAddress loopback(Family f);

  Family family() const { return family_; }
  bool is_v4() const { return family_ == Family::V4; }
  bool is_v6() const { return family_ == Family::V6; }
  const uint8_t* data() const { return bytes_.data(); }
  uint8_t* data() { return bytes_.data(); }
  size_t size() const { return is_v4() ? 4 : 16; }
  uint32_t v4_value() const;  // host order; only for IPv4
  bool is_unspecified() const;

  std::string to_string() const;
  // Writes the text form and a NUL into `out` (kMaxText bytes); returns its length. IPv4 is
  // formatted directly (glibc's inet_ntop goes through sprintf, which the ledger felt).
  static constexpr size_t kMaxText = 46;  // INET6_ADDRSTRLEN
  size_t format(char* out) const;

  friend bool operator==(const IpAddress&, const IpAddress&) = default;
  friend std::strong_ordering operator<=>(const IpAddress&, const IpAddress&) = default;
  size_t hash() const;

 private:
  Family family_ = Family::V4;
  std::array<uint8_t, 16> bytes_{};  // IPv4 uses the first four bytes, the rest stay zero
};

}  // namespace turnpike::core
