// Showing what a stranger sent: the one escaping rule for every log line, every turnpike-admin
// table and every --json document, whatever bytes it is given.
//
// Text (escape_text): a character that is_shown_as_is() stays as it is; a backslash becomes
// "\\"; newline, carriage return and tab become "\n", "\r", "\t"; any other control byte and
// every byte that is not UTF-8 becomes "\xHH"; any other character that is not shown as is
// becomes "\uXXXX" (or "\UXXXXXXXX" above U+FFFF). The result is valid UTF-8, holds no control
// character (so no terminal escape sequence and no line break), and can be read back
// unambiguously; nothing is ever cut in the middle of a character.
//
// JSON (json_string): a quoted JSON string (RFC 8259 §7) whose value is exactly the input when
// the input is UTF-8, with every control and hidden character written as a \u escape, so the
// document is valid UTF-8 and prints safely. A byte that is not UTF-8 has no JSON spelling: its
// value holds the same four characters "\xHH" as the text form.
#pragma once

#include <string>
#include <string_view>

namespace turnpike::core {

std::string escape_text(std::string_view s);
std::string json_string(std::string_view s);

}  // namespace turnpike::core
