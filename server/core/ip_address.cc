#include "core/ip_address.h"

#include <arpa/inet.h>

#include <cstring>

#include "core/bytes.h"

namespace turnpike::core {

IpAddress IpAddress::v4(uint32_t host_order) {
  IpAddress a;
  a.family_ = Family::V4;
  store_be32(a.bytes_.data(), host_order);
  return a;
}

IpAddress IpAddress::v4(const uint8_t bytes[4]) {
  IpAddress a;
  a.family_ = Family::V4;
  std::memcpy(a.bytes_.data(), bytes, 4);
  return a;
}

IpAddress IpAddress::v6(const uint8_t bytes[16]) {
  IpAddress a;
  a.family_ = Family::V6;
  std::memcpy(a.bytes_.data(), bytes, 16);
  return a;
}

IpAddress IpAddress::any(Family f) {
  IpAddress a;
  a.family_ = f;
  return a;
}

IpAddress IpAddress::loopback(Family f) {
  IpAddress a;
  a.family_ = f;
  if (f == Family::V4) {
    store_be32(a.bytes_.data(), 0x7F000001);
  } else {
    a.bytes_[15] = 1;
  }
  return a;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  char buf[INET6_ADDRSTRLEN];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  IpAddress a;
  if (inet_pton(AF_INET, buf, a.bytes_.data()) == 1) {
    a.family_ = Family::V4;
    return a;
  }
  if (inet_pton(AF_INET6, buf, a.bytes_.data()) == 1) {
    a.family_ = Family::V6;
    return a;
  }
  return std::nullopt;
}

uint32_t IpAddress::v4_value() const {
  return load_be32(bytes_.data());
}

bool IpAddress::is_unspecified() const {
  for (size_t i = 0; i < size(); ++i) {
    if (bytes_[i] != 0) return false;
  }
  return true;
}

size_t IpAddress::format(char* out) const {
  if (is_v6()) {
    inet_ntop(AF_INET6, bytes_.data(), out, kMaxText);
    return std::strlen(out);
  }
  char* p = out;
  for (int i = 0; i < 4; ++i) {
    unsigned v = bytes_[i];
    if (v >= 100) *p++ = char('0' + v / 100);
    if (v >= 10) *p++ = char('0' + v / 10 % 10);
    *p++ = char('0' + v % 10);
    if (i < 3) *p++ = '.';
  }
  *p = '\0';
  return size_t(p - out);
}

std::string IpAddress::to_string() const {
  char buf[kMaxText];
  return std::string(buf, format(buf));
}

size_t IpAddress::hash() const {
  // FNV-1a over the address bytes: cheap and good enough for per-worker tables.
  uint64_t h = 1469598103934665603ull ^ uint8_t(family_);
  for (size_t i = 0; i < size(); ++i) {
    h ^= bytes_[i];
    h *= 1099511628211ull;
  }
  return size_t(h);
}

}  // namespace turnpike::core
