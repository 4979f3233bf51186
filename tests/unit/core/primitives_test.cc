// ChannelData, stream framing, base64, constant-time compare, addresses and ranges.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <ios>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/base64.h"
#include "core/channel_data.h"
#include "core/constant_time.h"
#include "core/hmac.h"
#include "core/ip_range.h"
#include "core/socket_address.h"
#include "core/stream_framing.h"

namespace turnpike::core {
namespace {

TEST(ChannelData, LengthRules) {
  // RFC 8656 §12.5: length greater than the data present -> dropped; extra bytes ignored.
  std::vector<uint8_t> d = {0x40, 0x01, 0x00, 0x03, 'a', 'b', 'c', 0};
  auto cd = parse_channel_data(Bytes(d.data(), d.size()));
  ASSERT_TRUE(cd);
  EXPECT_EQ(cd->channel, 0x4001);
  EXPECT_EQ(cd->payload.size(), 3u);
  d[3] = 5;
  EXPECT_FALSE(parse_channel_data(Bytes(d.data(), d.size())));
  // firefart/stunner "memoryleak": length 35510 with 3 bytes of data.
  std::vector<uint8_t> leak = {0x40, 0x01, 0x8a, 0xb6, 'a', 'b', 'c'};
  EXPECT_FALSE(parse_channel_data(Bytes(leak.data(), leak.size())));
  // Fewer than 4 bytes.
  EXPECT_FALSE(parse_channel_data(Bytes(d.data(), 3)));
  // Zero-length payload is legal.
  std::vector<uint8_t> empty = {0x40, 0x00, 0x00, 0x00};
  EXPECT_TRUE(parse_channel_data(Bytes(empty.data(), empty.size())));
}

TEST(ChannelData, ChannelRange) {
  for (uint16_t ch : {0x4000, 0x4FFF, 0x5000, 0x7FFF}) {
    std::vector<uint8_t> d = {uint8_t(ch >> 8), uint8_t(ch), 0, 0};
    EXPECT_TRUE(parse_channel_data(Bytes(d.data(), 4))) << std::hex << ch;
  }
  for (uint16_t ch : {0x3FFF, 0x8000, 0xFFFF, 0x0000}) {
    std::vector<uint8_t> d = {uint8_t(ch >> 8), uint8_t(ch), 0, 0};
    EXPECT_FALSE(parse_channel_data(Bytes(d.data(), 4))) << std::hex << ch;
  }
}

TEST(StreamFraming, StunChannelDataAndInvalid) {
  std::vector<uint8_t> stun = {0x00, 0x01, 0x00, 0x08};
  auto f = next_frame(Bytes(stun.data(), stun.size()));
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, FrameKind::Stun);
  EXPECT_EQ(f->size, 28u);
  // ChannelData over streams is padded to four bytes (RFC 8656 §12.5).
  std::vector<uint8_t> cd = {0x40, 0x01, 0x00, 0x05};
  f = next_frame(Bytes(cd.data(), cd.size()));
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, FrameKind::ChannelData);
  EXPECT_EQ(f->size, 12u);
  // 32-bit arithmetic: 0xFFFF does not wrap (coturn CVE-2026-40613).
  std::vector<uint8_t> big = {0x40, 0x01, 0xFF, 0xFF};
  EXPECT_EQ(next_frame(Bytes(big.data(), 4))->size, 4u + 0x10000u);
  std::vector<uint8_t> big_stun = {0x00, 0x01, 0xFF, 0xFC};
  EXPECT_EQ(next_frame(Bytes(big_stun.data(), 4))->size, 20u + 0xFFFCu);
  std::vector<uint8_t> tls = {0x16, 0x03, 0x01,
                              0x00};  // a TLS ClientHello starts 0x16: STUN-ish bits 00
  EXPECT_EQ(next_frame(Bytes(tls.data(), 4))->kind, FrameKind::Stun);
  std::vector<uint8_t> http = {'G', 'E', 'T', ' '};  // 0x47: bits 01 -> ChannelData-looking
  EXPECT_EQ(next_frame(Bytes(http.data(), 4))->kind, FrameKind::ChannelData);
  std::vector<uint8_t> invalid = {0x80, 0, 0, 0};
  EXPECT_EQ(next_frame(Bytes(invalid.data(), 4))->kind, FrameKind::Invalid);
  EXPECT_FALSE(next_frame(Bytes(invalid.data(), 3)));
}

TEST(Base64, Rfc4648Vectors) {
  const std::pair<const char*, const char*> v[] = {{"", ""},
                                                   {"f", "Zg=="},
                                                   {"fo", "Zm8="},
                                                   {"foo", "Zm9v"},
                                                   {"foob", "Zm9vYg=="},
                                                   {"fooba", "Zm9vYmE="},
                                                   {"foobar", "Zm9vYmFy"}};
  for (auto [plain, enc] : v) {
    const std::string p = plain;
    EXPECT_EQ(base64_encode(Bytes(reinterpret_cast<const uint8_t*>(p.data()), p.size())), enc);
    EXPECT_EQ(base64_decode(enc), p);
  }
  EXPECT_FALSE(base64_decode("Zm9"));
  EXPECT_FALSE(base64_decode("Zm9v!A=="));
  EXPECT_FALSE(base64_decode("Zh=="));  // non-canonical trailing bits
  const uint8_t bin[] = {0xfb, 0xff, 0x00};
  EXPECT_EQ(base64url_encode(Bytes(bin, 3)), "-_8A");
  EXPECT_EQ(base64url_decode("-_8A"), std::string("\xfb\xff\x00", 3));
}

TEST(ConstantTime, Equality) {
  const uint8_t a[] = {1, 2, 3, 4};
  const uint8_t b[] = {1, 2, 3, 5};
  const uint8_t c[] = {0, 2, 3, 4};
  EXPECT_TRUE(constant_time_equal(a, a, 4));
  EXPECT_FALSE(constant_time_equal(a, b, 4));
  EXPECT_FALSE(constant_time_equal(a, c, 4));
  EXPECT_TRUE(constant_time_equal(a, b, 3));
  EXPECT_TRUE(constant_time_equal(a, b, 0));
}

TEST(Hmac, Rfc2202AndRfc4231Vectors) {
  // RFC 2202 test case 2 (HMAC-SHA1) and RFC 4231 test case 2 (HMAC-SHA256): key "Jefe".
  const std::string key = "Jefe";
  const std::string msg = "what do ya want for nothing?";
  uint8_t out[32];
  hmac(HashAlgorithm::Sha1, Bytes(reinterpret_cast<const uint8_t*>(key.data()), key.size()),
       Bytes(reinterpret_cast<const uint8_t*>(msg.data()), msg.size()), out);
  const uint8_t sha1[] = {0xef, 0xfc, 0xdf, 0x6a, 0xe5, 0xeb, 0x2f, 0xa2, 0xd2, 0x74,
                          0x16, 0xd5, 0xf1, 0x84, 0xdf, 0x9c, 0x25, 0x9a, 0x7c, 0x79};
  EXPECT_EQ(0, memcmp(out, sha1, 20));
  hmac(HashAlgorithm::Sha256, Bytes(reinterpret_cast<const uint8_t*>(key.data()), key.size()),
       Bytes(reinterpret_cast<const uint8_t*>(msg.data()), msg.size()), out);
  EXPECT_EQ(out[0], 0x5b);
  EXPECT_EQ(out[31], 0x43);
}

TEST(SocketAddress, ParseAndFormat) {
  EXPECT_EQ(SocketAddress::parse("192.0.2.1:3478")->to_string(), "192.0.2.1:3478");
  EXPECT_EQ(SocketAddress::parse("[2001:db8::1]:5349")->to_string(), "[2001:db8::1]:5349");
  EXPECT_FALSE(SocketAddress::parse("2001:db8::1:5349"));  // ambiguous without brackets
  EXPECT_FALSE(SocketAddress::parse("192.0.2.1"));
  EXPECT_FALSE(SocketAddress::parse("192.0.2.1:65536"));
  EXPECT_FALSE(SocketAddress::parse("example.org:3478"));  // never resolved
  sockaddr_storage ss;
  auto a = *SocketAddress::parse("[2001:db8::2]:9");
  const socklen_t len = a.to_sockaddr(ss);
  EXPECT_EQ(*SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len), a);
}

TEST(IpRange, ParseForms) {
  auto r = IpRange::parse("10.0.0.0-10.255.255.255");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->contains(*IpAddress::parse("10.1.2.3")));
  EXPECT_FALSE(r->contains(*IpAddress::parse("11.0.0.0")));
  EXPECT_FALSE(r->contains(*IpAddress::parse("::ffff:10.1.2.3")));  // families never mix
  r = IpRange::parse("192.168.0.0/16");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->to_string(), "192.168.0.0-192.168.255.255");
  r = IpRange::parse("2001:db8::/32");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->contains(*IpAddress::parse("2001:db8:ffff::1")));
  EXPECT_FALSE(r->contains(*IpAddress::parse("2001:db9::")));
  // Full 16-byte lexicographic compare (coturn once under-blocked IPv6 ranges).
  r = IpRange::parse("::ffff:0.0.0.0-::ffff:255.255.255.255");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->contains(*IpAddress::parse("::ffff:127.0.0.1")));
  EXPECT_FALSE(r->contains(*IpAddress::parse("::1:ffff:127.0.0.1")));
  EXPECT_TRUE(IpRange::parse("127.0.0.1"));
  EXPECT_FALSE(IpRange::parse("10.0.0.0/33"));
  EXPECT_FALSE(IpRange::parse("10.0.0.9-10.0.0.1"));
  EXPECT_FALSE(IpRange::parse("10.0.0.0-::1"));
  EXPECT_FALSE(IpRange::parse("example.org"));
  EXPECT_TRUE(IpRange::parse("0.0.0.0/0")->contains(*IpAddress::parse("255.255.255.255")));
}

}  // namespace
}  // namespace turnpike::core
