// The UTF-8 rules and the one escaping function (core/utf8.h, core/text_escape.h,
// core/attributes/text.h) on arbitrary bytes. Traps when a promise breaks:
// - escape_text and json_string give UTF-8 in which every character is shown as is;
// - escape_text can be read back to exactly the input (nothing lost, nothing ambiguous);
// - json_string is one well-formed JSON string; for valid UTF-8 its value is exactly the input;
// - a text attribute accepted by the rule escapes to itself apart from doubled backslashes;
// - utf8_prefix never cuts a character and never exceeds its limit.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/attributes/text.h"
#include "core/stun_types.h"
#include "core/text_escape.h"
#include "core/utf8.h"

using namespace turnpike::core;

namespace {

void require(bool ok) {
  if (!ok) __builtin_trap();
}

bool all_shown(std::string_view s) {
  while (!s.empty()) {
    const Utf8Char c = decode_utf8(s);
    if (c.length == 0 || !is_shown_as_is(c.code)) return false;
    s.remove_prefix(c.length);
  }
  return true;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool read_hex(std::string_view s, size_t n, uint32_t* out) {
  if (s.size() < n) return false;
  *out = 0;
  for (size_t i = 0; i < n; ++i) {
    const int d = hex_digit(s[i]);
    if (d < 0) return false;
    *out = *out << 4 | uint32_t(d);
  }
  return true;
}

void put_utf8(std::string& out, uint32_t c) {
  if (c < 0x80) {
    out += char(c);
  } else if (c < 0x800) {
    out += char(0xC0 | c >> 6);
    out += char(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += char(0xE0 | c >> 12);
    out += char(0x80 | (c >> 6 & 0x3F));
    out += char(0x80 | (c & 0x3F));
  } else {
    out += char(0xF0 | c >> 18);
    out += char(0x80 | (c >> 12 & 0x3F));
    out += char(0x80 | (c >> 6 & 0x3F));
    out += char(0x80 | (c & 0x3F));
  }
}

// The reader a script would write for the documented forms: escape_text's (`json` false) or a
// JSON string's value (RFC 8259 §7, the escapes json_string writes).
bool unescape(std::string_view s, bool json, std::string* out) {
  if (json) {
    if (s.size() < 2 || s.front() != '"' || s.back() != '"') return false;
    s = s.substr(1, s.size() - 2);
  }
  while (!s.empty()) {
    if (json && s[0] == '"') return false;  // an unescaped quote would end the string early
    if (s[0] != '\\') {
      *out += s[0];
      s.remove_prefix(1);
      continue;
    }
    if (s.size() < 2) return false;
    const char k = s[1];
    s.remove_prefix(2);
    uint32_t v = 0;
    switch (k) {
      case '"':
        if (!json) return false;
        *out += k;
        break;
      case '\\':
        *out += k;
        break;
      case 'n':
        *out += '\n';
        break;
      case 'r':
        *out += '\r';
        break;
      case 't':
        *out += '\t';
        break;
      case 'x':
        if (json || !read_hex(s, 2, &v)) return false;
        *out += char(v);
        s.remove_prefix(2);
        break;
      case 'U':
        if (json || !read_hex(s, 8, &v)) return false;
        put_utf8(*out, v);
        s.remove_prefix(8);
        break;
      case 'u':
        if (!read_hex(s, 4, &v)) return false;
        s.remove_prefix(4);
        if (json && v >= 0xD800 && v <= 0xDBFF) {
          uint32_t lo = 0;
          if (s.size() < 6 || s[0] != '\\' || s[1] != 'u' || !read_hex(s.substr(2), 4, &lo) ||
              lo < 0xDC00 || lo > 0xDFFF) {
            return false;
          }
          s.remove_prefix(6);
          v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
        } else if (v >= 0xD800 && v <= 0xDFFF) {
          return false;
        }
        put_utf8(*out, v);
        break;
      default:
        return false;
    }
  }
  return true;
}

std::string double_backslashes(std::string_view s) {
  std::string out;
  for (char c : s) {
    out += c;
    if (c == '\\') out += '\\';
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view s(reinterpret_cast<const char*>(data), size);

  const std::string text = escape_text(s);
  require(all_shown(text));
  std::string back;
  require(unescape(text, false, &back));
  require(back == s);

  const std::string json = json_string(s);
  require(all_shown(json));
  require(json.size() >= 2 && json.front() == '"' && json.back() == '"');

  std::string value;
  require(unescape(json, true, &value));
  if (is_valid_utf8(s)) {
    require(value == s);
    require(utf8_length(s) <= s.size());
  } else {
    require(json.find("\\\\x") != std::string::npos);
  }

  for (uint16_t type : {attr::Username, attr::Realm, attr::Nonce, attr::Software}) {
    if (is_valid_text_attribute(type, s)) {
      require(is_valid_utf8(s) && all_shown(s));
      require(text == double_backslashes(s));
    }
  }

  const size_t limit = size ? data[0] % (size + 1) : 0;
  const size_t cut = utf8_prefix(s, limit);
  require(cut <= limit);
  if (is_valid_utf8(s)) require(is_valid_utf8(s.substr(0, cut)));
  require(utf8_prefix(s, s.size()) == s.size());
  return 0;
}
