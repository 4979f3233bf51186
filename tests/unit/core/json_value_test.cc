// The JSON reader behind the check page's API: the grammar, escapes, and the caps.
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "core/json_value.h"

namespace turnpike::core {
namespace {

TEST(JsonValue, ParsesWhatThePageSends) {
  std::string err;
  auto v = JsonValue::parse(
      R"({"token":"abc-_","results":[{"url":"turn:1.2.3.4:3478","rtt_ms":1.5e1,"ok":true,"x":null}],)"
      R"( "n": -0.25 , "s":"a\"b\\c\/\n\u00e9\ud83d\ude00"})",
      &err);
  ASSERT_TRUE(v) << err;
  EXPECT_EQ(v->get_string("token"), "abc-_");
  const JsonValue* r = v->get("results");
  ASSERT_TRUE(r && r->is(JsonValue::Kind::Array));
  ASSERT_EQ(r->array().size(), 1u);
  EXPECT_EQ(r->array()[0].get_string("url"), "turn:1.2.3.4:3478");
  EXPECT_EQ(r->array()[0].get_number("rtt_ms"), 15.0);
  EXPECT_TRUE(r->array()[0].get("ok")->boolean());
  EXPECT_TRUE(r->array()[0].get("x")->is(JsonValue::Kind::Null));
  EXPECT_EQ(v->get_number("n"), -0.25);
  EXPECT_EQ(v->get_string("s"), "a\"b\\c/\n\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_EQ(v->get_string("n"), std::nullopt);  // a number, not a string
  EXPECT_EQ(v->get("missing"), nullptr);
}

TEST(JsonValue, RefusesWhatIsNotJson) {
  for (const char* bad : {"", "{", "[1,]", "{\"a\":}", "{a:1}", "01", "1.", "-", "1e", "tru",
                          "\"\\x\"", "\"\\ud800\"", "\"a\nb\"", "[1] 2", "{\"a\" 1}", "'a'",
                          "\"unterminated"}) {
    std::string err;
    EXPECT_FALSE(JsonValue::parse(bad, &err)) << bad;
    EXPECT_NE(err.find("at byte"), std::string::npos) << bad;
  }
}

TEST(JsonValue, Caps) {
  std::string err;
  std::string deep(20, '[');
  deep += std::string(20, ']');
  EXPECT_FALSE(JsonValue::parse(deep, &err));
  EXPECT_NE(err.find("nested too deep"), std::string::npos);
  std::string many = "[";
  for (int i = 0; i < 3000; ++i) many += (i ? ",1" : "1");
  many += "]";
  EXPECT_FALSE(JsonValue::parse(many, &err));
  EXPECT_NE(err.find("too many values"), std::string::npos);
  EXPECT_FALSE(JsonValue::parse(std::string(20000, ' ') + "1", &err));
  EXPECT_NE(err.find("bytes"), std::string::npos);
  EXPECT_TRUE(JsonValue::parse(" [ [ 1 ] , { } , \"\" ] ", &err)) << err;
}

}  // namespace
}  // namespace turnpike::core
