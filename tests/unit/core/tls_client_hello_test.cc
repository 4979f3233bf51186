// The ClientHello peeker of the port-443 multiplexer (RFC 8446 §4.1.2, RFC 6066 §3, RFC 7301).
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "../test_util.h"
#include "core/tls_client_hello.h"

namespace turnpike::core {
namespace {

// Sent by `openssl s_client -alpn stun.turn,h2 -servername Turn.Example.org` (OpenSSL 3.0).
const std::vector<uint8_t> kOpenSslHello = test::hex(
    "16030101500100014c0303c612e0091f214c466d7ab82743a3e33a1645ef616fe867dc3970a1eeb8c59f1220a10d5a"
    "d4"
    "f25d8a305baf227f800b62a3ee56e2a40b7dd3023d8e3d65957425bf003e130213031301c02cc030009fcca9cca8cc"
    "aa"
    "c02bc02f009ec024c028006bc023c0270067c00ac0140039c009c0130033009d009c003d003c0035002f00ff010000"
    "c5"
    "0000001500130000105475726e2e4578616d706c652e6f7267000b000403000102000a00160014001d0017001e0019"
    "00"
    "1801000101010201030104002300000010000f000d097374756e2e7475726e0268320016000000170000000d002a00"
    "28"
    "040305030603080708080809080a080b080408050806040105010601030303010302040205020602002b0009080304"
    "03"
    "0303020301002d00020101003300260024001d002037642d8406e25e65bb5447ff5c2c730688db08e36879892c7b42"
    "aa"
    "5c86c4f862");

TEST(TlsClientHello, RealHelloGivesSniAndAlpn) {
  ClientHelloInfo info;
  ASSERT_EQ(parse_client_hello(Bytes(kOpenSslHello.data(), kOpenSslHello.size()), &info),
            HelloStatus::Ok);
  EXPECT_EQ(info.server_name, "turn.example.org");  // lower-cased
  ASSERT_EQ(info.alpn.size(), 2u);
  EXPECT_EQ(info.alpn[0], "stun.turn");
  EXPECT_TRUE(info.offers("h2"));
  EXPECT_FALSE(info.offers("http/1.1"));
}

TEST(TlsClientHello, EveryPrefixNeedsMore) {
  ClientHelloInfo info;
  for (size_t n = 0; n < kOpenSslHello.size(); ++n) {
    EXPECT_EQ(parse_client_hello(Bytes(kOpenSslHello.data(), n), &info), HelloStatus::NeedMore)
        << n;
  }
}

TEST(TlsClientHello, FragmentedAcrossRecords) {
  // RFC 8446 §5.1: the same handshake message split into three records.
  const uint8_t* hs = kOpenSslHello.data() + 5;
  const size_t hs_len = kOpenSslHello.size() - 5;
  std::vector<uint8_t> split;
  const size_t cuts[] = {0, 7, 100, hs_len};
  for (int i = 0; i < 3; ++i) {
    const size_t n = cuts[i + 1] - cuts[i];
    split.insert(split.end(), {0x16, 0x03, 0x01, uint8_t(n >> 8), uint8_t(n)});
    split.insert(split.end(), hs + cuts[i], hs + cuts[i + 1]);
  }
  ClientHelloInfo info;
  ASSERT_EQ(parse_client_hello(Bytes(split.data(), split.size()), &info), HelloStatus::Ok);
  EXPECT_EQ(info.server_name, "turn.example.org");
  EXPECT_EQ(parse_client_hello(Bytes(split.data(), split.size() - 1), &info),
            HelloStatus::NeedMore);
}

TEST(TlsClientHello, NotTlsAndInvalid) {
  ClientHelloInfo info;
  const std::vector<uint8_t> stun = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42};
  EXPECT_EQ(parse_client_hello(Bytes(stun.data(), stun.size()), &info), HelloStatus::NotTls);
  const std::vector<uint8_t> http = {'G', 'E', 'T', ' ', '/'};
  EXPECT_EQ(parse_client_hello(Bytes(http.data(), http.size()), &info), HelloStatus::NotTls);
  const std::vector<uint8_t> sslv2ish = {0x16, 0x02, 0x00};
  EXPECT_EQ(parse_client_hello(Bytes(sslv2ish.data(), sslv2ish.size()), &info),
            HelloStatus::NotTls);
  // A handshake record holding a ServerHello (type 2) is not a ClientHello.
  std::vector<uint8_t> server_hello = kOpenSslHello;
  server_hello[5] = 2;
  EXPECT_EQ(parse_client_hello(Bytes(server_hello.data(), server_hello.size()), &info),
            HelloStatus::Invalid);
  // An extension length running past the end.
  std::vector<uint8_t> overrun = kOpenSslHello;
  overrun[overrun.size() - 40] = 0xFF;
  overrun[overrun.size() - 39] = 0xFF;
  EXPECT_NE(parse_client_hello(Bytes(overrun.data(), overrun.size()), &info), HelloStatus::Ok);
  // A record of length 0, and a record claiming more than 2^14 + slack.
  const std::vector<uint8_t> empty_record = {0x16, 0x03, 0x01, 0x00, 0x00, 0x16};
  EXPECT_EQ(parse_client_hello(Bytes(empty_record.data(), empty_record.size()), &info),
            HelloStatus::Invalid);
  const std::vector<uint8_t> huge_record = {0x16, 0x03, 0x01, 0xFF, 0xFF};
  EXPECT_EQ(parse_client_hello(Bytes(huge_record.data(), huge_record.size()), &info),
            HelloStatus::Invalid);
  // A ClientHello whose declared length exceeds what turnpike waits for.
  const std::vector<uint8_t> giant = {0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x01, 0x00, 0x00};
  EXPECT_EQ(parse_client_hello(Bytes(giant.data(), giant.size()), &info), HelloStatus::Invalid);
}

TEST(TlsClientHello, MinimalHelloWithoutExtensions) {
  // version, random, empty session id, one cipher suite, null compression; no extensions.
  std::vector<uint8_t> body = {0x03, 0x03};
  body.resize(2 + 32, 0xAB);
  body.insert(body.end(), {0x00, 0x00, 0x02, 0x13, 0x01, 0x01, 0x00});
  std::vector<uint8_t> msg = {0x01, 0x00, 0x00, uint8_t(body.size())};
  msg.insert(msg.end(), body.begin(), body.end());
  std::vector<uint8_t> rec = {0x16, 0x03, 0x01, 0x00, uint8_t(msg.size())};
  rec.insert(rec.end(), msg.begin(), msg.end());
  ClientHelloInfo info;
  ASSERT_EQ(parse_client_hello(Bytes(rec.data(), rec.size()), &info), HelloStatus::Ok);
  EXPECT_TRUE(info.server_name.empty());
  EXPECT_TRUE(info.alpn.empty());
}

}  // namespace
}  // namespace turnpike::core
