#include "core/utf8.h"

#include <cstdint>

namespace turnpike::core {
namespace {

bool continuation(uint8_t b, uint8_t lo = 0x80, uint8_t hi = 0xBF) {
  return b >= lo && b <= hi;
}

}  // namespace

Utf8Char decode_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const size_t n = s.size();
  if (n == 0) return {};
  const uint8_t b0 = p[0];
  if (b0 < 0x80) return {b0, 1};
  // Unicode 15 §3.9, table 3-7: the second byte's range depends on the first byte, which is
  // what excludes overlong forms, surrogates and code points past U+10FFFF.
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    if (n < 2 || !continuation(p[1])) return {};
    return {char32_t(b0 & 0x1F) << 6 | (p[1] & 0x3F), 2};
  }
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    const uint8_t lo = b0 == 0xE0 ? 0xA0 : 0x80;
    const uint8_t hi = b0 == 0xED ? 0x9F : 0xBF;
    if (n < 3 || !continuation(p[1], lo, hi) || !continuation(p[2])) return {};
    return {char32_t(b0 & 0x0F) << 12 | char32_t(p[1] & 0x3F) << 6 | (p[2] & 0x3F), 3};
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    const uint8_t lo = b0 == 0xF0 ? 0x90 : 0x80;
    const uint8_t hi = b0 == 0xF4 ? 0x8F : 0xBF;
    if (n < 4 || !continuation(p[1], lo, hi) || !continuation(p[2]) || !continuation(p[3])) {
      return {};
    }
    return {char32_t(b0 & 0x07) << 18 | char32_t(p[1] & 0x3F) << 12 |
                char32_t(p[2] & 0x3F) << 6 | (p[3] & 0x3F),
            4};
  }
  return {};  // 80-C1 (continuation or overlong lead), F5-FF
}

bool is_valid_utf8(std::string_view s) {
  while (!s.empty()) {
    const size_t len = decode_utf8(s).length;
    if (len == 0) return false;
    s.remove_prefix(len);
  }
  return true;
}

size_t utf8_length(std::string_view s) {
  size_t chars = 0;
  while (!s.empty()) {
    const size_t len = decode_utf8(s).length;
    s.remove_prefix(len ? len : 1);
    ++chars;
  }
  return chars;
}

size_t utf8_prefix(std::string_view s, size_t max_bytes) {
  size_t used = 0;
  while (used < s.size()) {
    size_t len = decode_utf8(s.substr(used)).length;
    if (len == 0) len = 1;
    if (used + len > max_bytes) break;
    used += len;
  }
  return used;
}

bool is_shown_as_is(char32_t c) {
  if (c < 0x20 || (c >= 0x7F && c <= 0x9F)) return false;  // Cc: C0, DEL, C1
  if (c < 0xAD) return true;
  // Default_Ignorable_Code_Point (Unicode DerivedCoreProperties), which includes the
  // bidirectional controls (U+061C, U+200E-U+200F, U+202A-U+202E, U+2066-U+2069) and
  // variation selectors; and U+2028/U+2029, which end a line.
  struct Range {
    char32_t first, last;
  };
  static constexpr Range kHidden[] = {
      {0x00AD, 0x00AD},   {0x034F, 0x034F},   {0x061C, 0x061C},   {0x115F, 0x1160},
      {0x17B4, 0x17B5},   {0x180B, 0x180F},   {0x200B, 0x200F},   {0x2028, 0x202E},
      {0x2060, 0x206F},   {0x3164, 0x3164},   {0xFE00, 0xFE0F},   {0xFEFF, 0xFEFF},
      {0xFFA0, 0xFFA0},   {0xFFF0, 0xFFFB},   {0x1BCA0, 0x1BCA3}, {0x1D173, 0x1D17A},
      {0xE0000, 0xE0FFF},
  };
  for (const Range& r : kHidden) {
    if (c < r.first) break;
    if (c <= r.last) return false;
  }
  // Noncharacters (Unicode §23.7): U+FDD0-U+FDEF and the last two code points of every plane.
  if (c >= 0xFDD0 && c <= 0xFDEF) return false;
  if ((c & 0xFFFE) == 0xFFFE) return false;
  return true;
}

}  // namespace turnpike::core
