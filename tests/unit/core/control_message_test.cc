// The control socket's wire format (core/control_message.h): round trips, every prefix is
// NeedMore, another version, bad magic, bad names, truncation, left-over bytes and counts the
// body cannot hold are refused.
#include "core/control_message.h"

#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace turnpike::core {
namespace {

ControlMessage sample() {
  ControlMessage m;
  m.add("command", "disconnect").add("user", "alice").add("user", "bob").add("value", "");
  m.add("binary", std::string("\0\xff\n", 3)).add("n", uint64_t(42));
  return m;
}

std::vector<uint8_t> encoded(const ControlMessage& m) {
  std::string err;
  auto e = encode_control(m, &err);
  EXPECT_TRUE(e) << err;
  return e ? *e : std::vector<uint8_t>{};
}

TEST(ControlMessage, RoundTripAndAccessors) {
  const ControlMessage m = sample();
  const auto bytes = encoded(m);
  ControlMessage out;
  size_t used = 0, need = 0;
  std::string err;
  ASSERT_EQ(decode_control(bytes, &out, &used, &need, &err), ControlDecode::Ok) << err;
  EXPECT_EQ(out, m);
  EXPECT_EQ(used, bytes.size());
  EXPECT_EQ(*out.get("command"), "disconnect");
  EXPECT_EQ(out.all("user"), (std::vector<std::string>{"alice", "bob"}));
  EXPECT_EQ(out.get("missing"), nullptr);
  EXPECT_EQ(*out.get("n"), "42");
  EXPECT_TRUE(ControlMessage::ok().is_ok());
  EXPECT_FALSE(ControlMessage::failure("no").is_ok());
}

TEST(ControlMessage, EveryPrefixNeedsMoreAndTrailingBytesAreLeft) {
  auto bytes = encoded(sample());
  for (size_t n = 0; n < bytes.size(); ++n) {
    ControlMessage out;
    size_t used = 0, need = 0;
    std::string err;
    EXPECT_EQ(decode_control(Bytes(bytes.data(), n), &out, &used, &need, &err),
              ControlDecode::NeedMore)
        << n;
    if (n >= kControlHeader) {
      EXPECT_EQ(need, bytes.size());
    }
  }
  const size_t size = bytes.size();
  bytes.push_back('T');  // the start of a next message is not part of this one
  ControlMessage out;
  size_t used = 0, need = 0;
  std::string err;
  EXPECT_EQ(decode_control(bytes, &out, &used, &need, &err), ControlDecode::Ok);
  EXPECT_EQ(used, size);
}

TEST(ControlMessage, Refusals) {
  const auto good = encoded(sample());
  auto refused = [](std::vector<uint8_t> b) {
    ControlMessage out;
    size_t used = 0, need = 0;
    std::string err;
    const auto r = decode_control(b, &out, &used, &need, &err);
    EXPECT_FALSE(err.empty() && r == ControlDecode::Invalid);
    return r == ControlDecode::Invalid ? err : std::string();
  };
  auto b = good;
  b[0] = 'X';
  EXPECT_NE(refused(b), "");
  b = good;
  b[5] = 2;  // version 2
  EXPECT_NE(refused(b).find("different versions"), std::string::npos);
  b = good;
  b[7] += 1;  // one more field than the body holds
  EXPECT_NE(refused(b), "");
  b = good;
  b[7] -= 1;  // one field fewer: bytes left over in the body
  EXPECT_NE(refused(b), "");
  b = good;
  b[kControlHeader + 1] = 'C';  // "Command": upper case is not a name
  EXPECT_NE(refused(b).find("invalid name"), std::string::npos);
  b = good;
  store_be32(b.data() + 8, uint32_t(kControlMaxBody + 1));
  EXPECT_NE(refused(b), "");
  b = good;
  store_be16(b.data() + 6, 60000);  // a count the body cannot hold, refused before reading on
  EXPECT_NE(refused(b), "");
  b = good;
  // The first value's length made larger than the body.
  store_be32(b.data() + kControlHeader + 1 + 7, 1000);
  EXPECT_NE(refused(b).find("truncated"), std::string::npos);
}

TEST(ControlMessage, EncoderRefusesBadNames) {
  std::string err;
  EXPECT_FALSE(encode_control(ControlMessage().add("Bad Name", "x"), &err));
  EXPECT_FALSE(encode_control(ControlMessage().add("", "x"), &err));
  EXPECT_FALSE(encode_control(ControlMessage().add(std::string(65, 'a'), "x"), &err));
  EXPECT_TRUE(encode_control(ControlMessage().add(std::string(64, 'a'), "x"), &err));
}

}  // namespace
}  // namespace turnpike::core
