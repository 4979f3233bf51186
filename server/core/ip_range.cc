#include "core/ip_range.h"

#include <charconv>
#include <compare>
#include <cstdint>
#include <cstring>
#include <system_error>

namespace turnpike::core {

IpRange IpRange::cidr(IpAddress base, unsigned prefix_len) {
  IpAddress first = base;
  IpAddress last = base;
  const unsigned bits = unsigned(base.size()) * 8;
  if (prefix_len > bits) prefix_len = bits;
  for (unsigned i = 0; i < base.size(); ++i) {
    const unsigned byte_start = i * 8;
    uint8_t mask;
    if (prefix_len >= byte_start + 8) {
      mask = 0xFF;
    } else if (prefix_len <= byte_start) {
      mask = 0x00;
    } else {
      mask = uint8_t(0xFF << (8 - (prefix_len - byte_start)));
    }
    first.data()[i] = base.data()[i] & mask;
    last.data()[i] = uint8_t(base.data()[i] | ~mask);
  }
  return IpRange(first, last);
}

std::optional<IpRange> IpRange::parse(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  if (const size_t slash = text.find('/'); slash != std::string_view::npos) {
    auto base = IpAddress::parse(text.substr(0, slash));
    const std::string_view len_text = text.substr(slash + 1);
    unsigned len = 0;
    auto [end, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
    if (!base || ec != std::errc() || end != len_text.data() + len_text.size() ||
        len > base->size() * 8) {
      return std::nullopt;
    }
    return cidr(*base, len);
  }
  if (const size_t dash = text.find('-'); dash != std::string_view::npos) {
    auto first = IpAddress::parse(text.substr(0, dash));
    auto last = IpAddress::parse(text.substr(dash + 1));
    if (!first || !last || first->family() != last->family() || *last < *first) {
      return std::nullopt;
    }
    return IpRange(*first, *last);
  }
  auto one = IpAddress::parse(text);
  if (!one) return std::nullopt;
  return IpRange(*one, *one);
}

bool IpRange::contains(const IpAddress& a) const {
  if (a.family() != first_.family()) return false;
  const size_t n = a.size();
  return std::memcmp(first_.data(), a.data(), n) <= 0 &&
         std::memcmp(a.data(), last_.data(), n) <= 0;
}

std::string IpRange::to_string() const {
  if (first_ == last_) return first_.to_string();
  return first_.to_string() + "-" + last_.to_string();
}

}  // namespace turnpike::core
