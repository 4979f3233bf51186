// UTF-8 decoding, the text attribute rule (RFC 8489 §14.3, §14.9, §14.10, §14.14) and the one
// escaping function for what clients send.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/attributes/text.h"
#include "core/stun_types.h"
#include "core/text_escape.h"
#include "core/utf8.h"

namespace turnpike::core {
namespace {

using namespace std::string_literals;

TEST(Utf8, DecodesWellFormedSequences) {
  EXPECT_EQ(decode_utf8("A").code, U'A');
  EXPECT_EQ(decode_utf8("\xc3\xa9").code, U'\u00e9');
  EXPECT_EQ(decode_utf8("\xc3\xa9").length, 2u);
  EXPECT_EQ(decode_utf8("\xe3\x83\x9e").code, U'\u30de');  // マ (RFC 5769 §2.4's user)
  EXPECT_EQ(decode_utf8("\xf0\x9f\x98\x80").code, U'\U0001f600');
  EXPECT_EQ(decode_utf8("\xf4\x8f\xbf\xbf").code, U'\U0010ffff');
  EXPECT_EQ(decode_utf8("\0"s).length, 1u);  // NUL is UTF-8 (and refused as a control)
}

TEST(Utf8, RefusesEveryIllFormedSequence) {
  for (const char* bad : {
           "\x80",              // stray continuation
           "\xbf",              //
           "\xc0\xaf",          // overlong '/'
           "\xc1\xbf",          // overlong
           "\xe0\x80\xaf",      // overlong, three bytes
           "\xe0\x9f\xbf",      // overlong (below U+0800)
           "\xed\xa0\x80",      // U+D800, a surrogate
           "\xed\xbf\xbf",      // U+DFFF
           "\xf0\x80\x80\xaf",  // overlong, four bytes
           "\xf0\x8f\xbf\xbf",  // overlong (below U+10000)
           "\xf4\x90\x80\x80",  // U+110000
           "\xf5\x80\x80\x80",  // past the last lead byte
           "\xff",              //
           "\xc3",              // truncated
           "\xe3\x83",          // truncated
           "\xf0\x9f\x98",      // truncated
           "\xc3\x41",          // continuation missing
       }) {
    EXPECT_EQ(decode_utf8(bad).length, 0u) << escape_text(bad);
    EXPECT_FALSE(is_valid_utf8(bad)) << escape_text(bad);
  }
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("1700000000:alice@example.org/\xe3\x83\x9e"));
}

TEST(Utf8, LengthAndPrefixNeverCutACharacter) {
  EXPECT_EQ(utf8_length("a\xc3\xa9\xe3\x83\x9e\xf0\x9f\x98\x80"), 4u);
  EXPECT_EQ(utf8_length("\xff\xfe"), 2u);  // each byte that is not UTF-8 is one
  const std::string s = "ab\xe3\x83\x9e";
  EXPECT_EQ(utf8_prefix(s, 5), 5u);
  EXPECT_EQ(utf8_prefix(s, 4), 2u);
  EXPECT_EQ(utf8_prefix(s, 3), 2u);
  EXPECT_EQ(utf8_prefix(s, 2), 2u);
  EXPECT_EQ(utf8_prefix(s, 0), 0u);
  EXPECT_EQ(utf8_prefix("\xff\xff", 1), 1u);
  EXPECT_EQ(utf8_prefix(s, 100), s.size());
}

TEST(Utf8, WhatIsShownAsIs) {
  EXPECT_TRUE(is_shown_as_is(U'a'));
  EXPECT_TRUE(is_shown_as_is(U' '));
  EXPECT_TRUE(is_shown_as_is(U'~'));
  EXPECT_TRUE(is_shown_as_is(U'\u00e9'));
  EXPECT_TRUE(is_shown_as_is(U'\u30de'));
  EXPECT_TRUE(is_shown_as_is(U'\U0001f600'));
  for (char32_t c : {U'\0', U'\a', U'\n', U'\x1b', U'\x7f', U'\u0080', U'\u009b', U'\u00ad',
                     U'\u200b', U'\u200e', U'\u2028', U'\u2029', U'\u202e', U'\u2066', U'\ufeff',
                     U'\ufe0f', U'\ufdd0', U'\ufffe', U'\uffff', U'\U0001fffe', U'\U000e0001'}) {
    EXPECT_FALSE(is_shown_as_is(c)) << unsigned(c);
  }
}

TEST(TextAttributes, Rfc8489Limits) {
  // §14.3: USERNAME fewer than 509 bytes.
  EXPECT_TRUE(is_valid_username(std::string(508, 'u')));
  EXPECT_FALSE(is_valid_username(std::string(509, 'u')));
  EXPECT_TRUE(is_valid_text_attribute(attr::Username, std::string(508, 'u')));
  // §14.9, §14.10, §14.14: fewer than 128 characters, at most 763 bytes.
  for (uint16_t type : {attr::Realm, attr::Nonce, attr::Software}) {
    EXPECT_TRUE(is_valid_text_attribute(type, std::string(127, 'r')));
    EXPECT_FALSE(is_valid_text_attribute(type, std::string(128, 'r')));
    std::string wide;
    for (int i = 0; i < 127; ++i) wide += "\xe3\x83\x9e";  // 127 characters, 381 bytes
    EXPECT_TRUE(is_valid_text_attribute(type, wide));
    EXPECT_FALSE(is_valid_text_attribute(type, wide + "\xe3\x83\x9e"));
  }
  EXPECT_TRUE(is_valid_text_attribute(attr::Username, "\xe3\x83\x9e\xe3\x83\x88"));  // RFC 5769
}

TEST(TextAttributes, ControlsHiddenCharactersAndBadUtf8AreRefused) {
  for (const std::string& bad :
       {"alice\0"s, "al\nice"s, "alice\r"s, "\x1b[2J"s, "a\x7f"s, "a\xc2\x9b" "31m"s,
        "evil\xe2\x80\xae" "gpj.exe"s, "a\xe2\x80\xa8" "b"s, "a\xef\xbb\xbf"s, "\xff"s,
        "\xc0\xaf"s, "\xed\xa0\x80"s, "a\xc3"s}) {
    for (uint16_t type : {attr::Username, attr::Realm, attr::Nonce, attr::Software}) {
      EXPECT_FALSE(is_valid_text_attribute(type, bad)) << type << " " << escape_text(bad);
    }
  }
  // Other attributes are not text.
  EXPECT_TRUE(is_valid_text_attribute(attr::Data, "\0\xff"s));
}

TEST(EscapeText, PrintableTextIsUnchanged) {
  EXPECT_EQ(escape_text("1700000000:alice@example.org"), "1700000000:alice@example.org");
  EXPECT_EQ(escape_text("\xe3\x83\x9e\xe3\x83\x88 caf\xc3\xa9 \xf0\x9f\x98\x80"),
            "\xe3\x83\x9e\xe3\x83\x88 caf\xc3\xa9 \xf0\x9f\x98\x80");
  EXPECT_EQ(escape_text(""), "");
}

TEST(EscapeText, EscapesEverythingAStrangerCouldUseAgainstATerminal) {
  EXPECT_EQ(escape_text("a\\b"), "a\\\\b");  // so that "\x41" in a name reads back as itself
  EXPECT_EQ(escape_text("line1\nline2\r\tx"), "line1\\nline2\\r\\tx");
  EXPECT_EQ(escape_text("\x1b]0;owned\x07\x1b[2J"), "\\x1b]0;owned\\x07\\x1b[2J");
  EXPECT_EQ(escape_text("nul\0end"s), "nul\\x00end");
  EXPECT_EQ(escape_text("\x7f"), "\\x7f");
  EXPECT_EQ(escape_text("\xc2\x9b" "31m"), "\\u009b31m");  // C1 CSI
  EXPECT_EQ(escape_text("evil\xe2\x80\xae" "gpj"), "evil\\u202egpj");
  EXPECT_EQ(escape_text("\xf3\xa0\x80\x81"), "\\U000e0001");  // a tag character
  EXPECT_EQ(escape_text("\xff\xfe"), "\\xff\\xfe");
  EXPECT_EQ(escape_text("\xc0\xaf"), "\\xc0\\xaf");
  EXPECT_EQ(escape_text("ok\xe3\x83"), "ok\\xe3\\x83");  // a character cut in two by the sender
}

// Whatever the input, the output is UTF-8 holding no control character, and every character the
// input shows as is survives unchanged.
TEST(EscapeText, OutputIsAlwaysSafeForEveryByte) {
  std::string all;
  for (int b = 0; b < 256; ++b) all += char(b);
  for (const std::string& s : {all, all + "\xe3\x83\x9e", "\xe2\x80\xae" + all}) {
    for (const std::string& out : {escape_text(s), json_string(s)}) {
      EXPECT_TRUE(is_valid_utf8(out));
      for (std::string_view rest = out; !rest.empty();) {
        const Utf8Char c = decode_utf8(rest);
        ASSERT_NE(c.length, 0u);
        EXPECT_TRUE(is_shown_as_is(c.code)) << unsigned(c.code);
        rest.remove_prefix(c.length);
      }
    }
  }
}

TEST(JsonString, ValidTextKeepsItsValue) {
  EXPECT_EQ(json_string("alice"), "\"alice\"");
  EXPECT_EQ(json_string("say \"hi\"\\"), "\"say \\\"hi\\\"\\\\\"");
  EXPECT_EQ(json_string("a\nb\tc\r"), "\"a\\nb\\tc\\r\"");
  EXPECT_EQ(json_string("\x1b[2J\0"s), "\"\\u001b[2J\\u0000\"");
  EXPECT_EQ(json_string("\x7f\xc2\x9b"), "\"\\u007f\\u009b\"");
  EXPECT_EQ(json_string("\xe2\x80\xa8\xe2\x80\xae"), "\"\\u2028\\u202e\"");
  EXPECT_EQ(json_string("caf\xc3\xa9 \xe3\x83\x9e"), "\"caf\xc3\xa9 \xe3\x83\x9e\"");
  // RFC 8259 §7: beyond the BMP, a surrogate pair.
  EXPECT_EQ(json_string("\xf3\xa0\x80\x81"), "\"\\udb40\\udc01\"");
}

TEST(JsonString, BytesThatAreNotUtf8BecomeTheirTextEscape) {
  // JSON cannot hold them; the value holds the four characters of the text form.
  EXPECT_EQ(json_string("a\xff"), "\"a\\\\xff\"");
  EXPECT_EQ(json_string("\xe3\x83"), "\"\\\\xe3\\\\x83\"");
}

}  // namespace
}  // namespace turnpike::core
