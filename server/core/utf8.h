// UTF-8 (RFC 3629), read strictly, and which characters may be shown to a person as they are.
//
// Strict means the well-formed sequences of Unicode's table 3-7 only: no overlong forms, no
// surrogates (U+D800-U+DFFF), nothing above U+10FFFF, no stray or missing continuation bytes.
// Anything else is "a byte that is not UTF-8", one byte at a time.
#pragma once

#include <cstddef>
#include <string_view>

namespace turnpike::core {

// The character at the start of `s` (not empty): its length in bytes (1-4) and code point, or
// length 0 when the first byte does not start a well-formed sequence.
struct Utf8Char {
  char32_t code = 0;
  size_t length = 0;
};
Utf8Char decode_utf8(std::string_view s);

bool is_valid_utf8(std::string_view s);

// Characters: well-formed sequences, each byte that is not UTF-8 counting as one.
size_t utf8_length(std::string_view s);

// The length of the longest prefix of `s` of at most `max_bytes` bytes that does not cut a
// character in two (a byte that is not UTF-8 is a unit of its own).
size_t utf8_prefix(std::string_view s, size_t max_bytes);

// Whether `c` can be shown to an administrator as itself without changing what else is shown or
// hiding what it is: false for control characters (C0, DEL, C1: the escape sequences of
// terminals begin with them), line and paragraph separators, the bidirectional formatting
// characters that reorder text around them, and the other default-ignorable code points and
// noncharacters that display as nothing. These are also what RFC 8265's OpaqueString profile
// (FreeformClass, §4.3 and RFC 8264 §9.11, §9.13) disallows among assigned characters.
bool is_shown_as_is(char32_t c);

}  // namespace turnpike::core
