// PROXY protocol v1 and v2 headers (HAProxy's specification).
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/proxy_protocol.h"

namespace turnpike::core {
namespace {

Bytes text(const std::string& s) {
  return Bytes(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

TEST(ProxyProtocol, V1Tcp4AndTcp6) {
  const std::string h = "PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\nrest";
  ProxyHeader p;
  ASSERT_EQ(parse_proxy_header(text(h), &p), ProxyStatus::Ok);
  EXPECT_EQ(p.size, h.size() - 4);
  EXPECT_EQ(p.source->to_string(), "192.0.2.7:56324");
  EXPECT_EQ(p.destination->to_string(), "198.51.100.1:443");

  const std::string h6 = "PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n";
  ASSERT_EQ(parse_proxy_header(text(h6), &p), ProxyStatus::Ok);
  EXPECT_EQ(p.source->to_string(), "[2001:db8::1]:1");

  ASSERT_EQ(parse_proxy_header(text("PROXY UNKNOWN ffff::1 whatever\r\n"), &p), ProxyStatus::Ok);
  EXPECT_FALSE(p.source);
}

TEST(ProxyProtocol, V1Prefixes) {
  const std::string h = "PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\n";
  ProxyHeader p;
  for (size_t n = 0; n < h.size(); ++n) {
    EXPECT_EQ(parse_proxy_header(text(h.substr(0, n)), &p), ProxyStatus::NeedMore) << n;
  }
}

TEST(ProxyProtocol, V1Invalid) {
  ProxyHeader p;
  for (const char* bad :
       {"PROXY TCP4 192.0.2.7 198.51.100.1 56324\r\n",
        "PROXY TCP4 192.0.2.7 198.51.100.1 56324 443 9\r\n",
        "PROXY TCP4 2001:db8::1 198.51.100.1 1 2\r\n", "PROXY TCP6 192.0.2.7 198.51.100.1 1 2\r\n",
        "PROXY TCP4 192.0.2.7 198.51.100.1 65536 2\r\n",
        "PROXY TCP4 192.0.2.7 198.51.100.1 01 2\r\n", "PROXY UDP4 192.0.2.7 198.51.100.1 1 2\r\n",
        "PROXY TCP4 host.example 198.51.100.1 1 2\r\n", "GET / HTTP/1.1\r\n", "\x16\x03\x01"}) {
    EXPECT_EQ(parse_proxy_header(text(bad), &p), ProxyStatus::Invalid) << bad;
  }
  // No CRLF within the 107 bytes a v1 header may take.
  EXPECT_EQ(parse_proxy_header(text("PROXY TCP4 " + std::string(120, '1')), &p),
            ProxyStatus::Invalid);
}

TEST(ProxyProtocol, V2RoundTrip) {
  for (const char* src : {"192.0.2.7:56324", "[2001:db8::7]:56324"}) {
    const auto s = SocketAddress::parse(src);
    const auto d = SocketAddress::parse(s->ip().is_v4() ? "198.51.100.1:443" : "[2001:db8::1]:443");
    uint8_t buf[kProxyV2MaxWritten + 3] = {};
    const size_t n = write_proxy_v2(*s, *d, buf);
    EXPECT_EQ(n, s->ip().is_v4() ? 28u : 52u);
    ProxyHeader p;
    ASSERT_EQ(parse_proxy_header(Bytes(buf, n + 3), &p), ProxyStatus::Ok);
    EXPECT_EQ(p.size, n);
    EXPECT_EQ(*p.source, *s);
    EXPECT_EQ(*p.destination, *d);
    for (size_t k = 0; k < n; ++k) {
      EXPECT_EQ(parse_proxy_header(Bytes(buf, k), &p), ProxyStatus::NeedMore) << k;
    }
  }
}

TEST(ProxyProtocol, V2LocalTlvsAndInvalid) {
  const std::vector<uint8_t> sig = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                    0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
  // LOCAL command (a health check from the proxy): addresses are the connection's own.
  std::vector<uint8_t> local = sig;
  local.insert(local.end(), {0x20, 0x00, 0x00, 0x00});
  ProxyHeader p;
  ASSERT_EQ(parse_proxy_header(Bytes(local.data(), local.size()), &p), ProxyStatus::Ok);
  EXPECT_EQ(p.size, 16u);
  EXPECT_FALSE(p.source);
  // PROXY with IPv4 addresses and a TLV after them: the TLV is skipped.
  std::vector<uint8_t> tlv = sig;
  tlv.insert(tlv.end(), {0x21, 0x11, 0x00, 12 + 5, 192,  0,    2,    7,    198, 51, 100,
                         1,    0xDC, 0x04, 0x01,   0xBB, 0x04, 0x00, 0x02, 'h', 'i'});
  ASSERT_EQ(parse_proxy_header(Bytes(tlv.data(), tlv.size()), &p), ProxyStatus::Ok);
  EXPECT_EQ(p.size, tlv.size());
  EXPECT_EQ(p.source->to_string(), "192.0.2.7:56324");
  // Version 1 in the v2 framing, an unknown command, an IPv4 block that is too short.
  for (std::vector<uint8_t> tail :
       std::vector<std::vector<uint8_t>>{{0x11, 0x11, 0x00, 0x0C},
                                         {0x22, 0x11, 0x00, 0x0C},
                                         {0x21, 0x11, 0x00, 0x04, 1, 2, 3, 4}}) {
    std::vector<uint8_t> h = sig;
    h.insert(h.end(), tail.begin(), tail.end());
    h.resize(h.size() + 12);
    EXPECT_EQ(parse_proxy_header(Bytes(h.data(), h.size()), &p), ProxyStatus::Invalid);
  }
  // A length beyond kMaxProxyHeader.
  std::vector<uint8_t> big = sig;
  big.insert(big.end(), {0x21, 0x11, 0xFF, 0xFF});
  EXPECT_EQ(parse_proxy_header(Bytes(big.data(), big.size()), &p), ProxyStatus::Invalid);
  // A wrong byte inside the signature.
  std::vector<uint8_t> wrong = sig;
  wrong[5] = 0;
  EXPECT_EQ(parse_proxy_header(Bytes(wrong.data(), wrong.size()), &p), ProxyStatus::Invalid);
}

}  // namespace
}  // namespace turnpike::core
