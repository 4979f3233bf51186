#include "core/text_escape.h"

#include <cstdint>
#include <cstdio>

#include "core/utf8.h"

namespace turnpike::core {
namespace {

enum class Style { Text, Json };

void append_hex(std::string& out, const char* format, unsigned v) {
  char buf[16];
  const int n = std::snprintf(buf, sizeof buf, format, v);
  out.append(buf, size_t(n));
}

// The one walk over the input both forms share; they differ only in how a character that is
// not shown as it is gets written.
std::string escape(std::string_view s, Style style) {
  std::string out;
  out.reserve(s.size() + 2);
  if (style == Style::Json) out += '"';
  while (!s.empty()) {
    const Utf8Char ch = decode_utf8(s);
    if (ch.length == 0) {
      // Not UTF-8: the byte's value, as text ("\xHH"), also inside JSON ("\\xHH").
      append_hex(out, style == Style::Json ? "\\\\x%02x" : "\\x%02x", uint8_t(s[0]));
      s.remove_prefix(1);
      continue;
    }
    const char32_t c = ch.code;
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"' && style == Style::Json) {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (is_shown_as_is(c)) {
      out.append(s.data(), ch.length);
    } else if (style == Style::Json) {
      // RFC 8259 §7: characters beyond the BMP as a UTF-16 surrogate pair.
      if (c > 0xFFFF) {
        const char32_t v = c - 0x10000;
        append_hex(out, "\\u%04x", unsigned(0xD800 + (v >> 10)));
        append_hex(out, "\\u%04x", unsigned(0xDC00 + (v & 0x3FF)));
      } else {
        append_hex(out, "\\u%04x", unsigned(c));
      }
    } else if (c < 0x80) {
      append_hex(out, "\\x%02x", unsigned(c));  // C0 and DEL: the byte, like a non-UTF-8 one
    } else if (c > 0xFFFF) {
      append_hex(out, "\\U%08x", unsigned(c));
    } else {
      append_hex(out, "\\u%04x", unsigned(c));
    }
    s.remove_prefix(ch.length);
  }
  if (style == Style::Json) out += '"';
  return out;
}

}  // namespace

std::string escape_text(std::string_view s) {
  return escape(s, Style::Text);
}

std::string json_string(std::string_view s) {
  return escape(s, Style::Json);
}

}  // namespace turnpike::core
