// The stateless part of the DTLS handshake (RFC 6347 §4.2.1): cookies, ClientHello, and
// HelloVerifyRequest.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/dtls_cookie.h"
#include "core/dtls_hello.h"

namespace turnpike::core {
namespace {

// A DTLS 1.2 ClientHello record carrying `cookie`, with record sequence 5.
std::vector<uint8_t> client_hello(const std::vector<uint8_t>& cookie, uint16_t message_seq = 0) {
  std::vector<uint8_t> body = {254, 253};
  body.resize(2 + 32, 0x11);  // random
  body.push_back(0);          // session id
  body.push_back(uint8_t(cookie.size()));
  body.insert(body.end(), cookie.begin(), cookie.end());
  body.insert(body.end(), {0x00, 0x02, 0xC0, 0x2B, 0x01, 0x00});  // one suite, null compression
  const uint32_t n = uint32_t(body.size());
  std::vector<uint8_t> hs = {
      1, 0, uint8_t(n >> 8), uint8_t(n), uint8_t(message_seq >> 8), uint8_t(message_seq), 0, 0,
      0, 0, uint8_t(n >> 8), uint8_t(n)};
  hs.insert(hs.end(), body.begin(), body.end());
  // Sized first and copied into: GCC 12 at -O3 reports false -Warray-bounds and
  // -Wstringop-overflow for inserting at the end of a vector filled from an initializer list.
  const uint8_t header[] = {22, 254, 253, 0, 0, 0, 0, 0, 0, 0, 5, uint8_t(hs.size() >> 8),
                            uint8_t(hs.size())};
  std::vector<uint8_t> rec(sizeof header + hs.size());
  std::copy(std::begin(header), std::end(header), rec.begin());
  std::copy(hs.begin(), hs.end(), rec.begin() + sizeof header);
  return rec;
}

TEST(DtlsHello, ParsesCookie) {
  auto first = client_hello({});
  auto h = parse_dtls_client_hello(Bytes(first.data(), first.size()));
  ASSERT_TRUE(h);
  EXPECT_TRUE(h->cookie.empty());
  EXPECT_EQ(h->record_sequence[5], 5);
  auto second = client_hello({1, 2, 3, 4}, 1);
  h = parse_dtls_client_hello(Bytes(second.data(), second.size()));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->cookie.size(), 4u);
  EXPECT_EQ(h->message_seq, 1);
}

TEST(DtlsHello, RejectsOthers) {
  auto rec = client_hello({});
  for (size_t n = 0; n < rec.size(); ++n) {
    EXPECT_FALSE(parse_dtls_client_hello(Bytes(rec.data(), n))) << n;  // truncated
  }
  auto epoch1 = rec;
  epoch1[4] = 1;
  EXPECT_FALSE(parse_dtls_client_hello(Bytes(epoch1.data(), epoch1.size())));
  auto tls = rec;
  tls[1] = 3;  // a TLS version
  EXPECT_FALSE(parse_dtls_client_hello(Bytes(tls.data(), tls.size())));
  auto fragment = rec;
  fragment[13 + 11] -= 1;  // fragment_length != length
  EXPECT_FALSE(parse_dtls_client_hello(Bytes(fragment.data(), fragment.size())));
  auto long_cookie = rec;
  long_cookie[13 + 12 + 34 + 1] = 200;  // cookie length past the message
  EXPECT_FALSE(parse_dtls_client_hello(Bytes(long_cookie.data(), long_cookie.size())));
}

TEST(DtlsHello, HelloVerifyRequestLayout) {
  auto rec = client_hello({});
  auto h = parse_dtls_client_hello(Bytes(rec.data(), rec.size()));
  ASSERT_TRUE(h);
  const std::vector<uint8_t> cookie(DtlsCookie::kSize, 0x5A);
  std::vector<uint8_t> out(kDtlsHelloVerifyOverhead + cookie.size());
  const size_t n = write_hello_verify_request(*h, Bytes(cookie.data(), cookie.size()), out.data());
  ASSERT_EQ(n, out.size());
  EXPECT_EQ(out[0], 22);
  EXPECT_EQ(out[1], 254);
  EXPECT_EQ(out[2], 255);  // DTLS 1.0 in the record (RFC 6347 §4.2.1)
  EXPECT_EQ(out[10], 5);   // the ClientHello's record sequence number
  EXPECT_EQ(out[13], 3);   // hello_verify_request
  EXPECT_EQ(out[13 + 12 + 2], cookie.size());
  // Never larger than the ClientHello it answers: no amplification.
  EXPECT_LE(n, rec.size());
}

TEST(DtlsCookie, BoundToAddressAndTime) {
  std::array<uint8_t, DtlsCookie::kKeySize> key{};
  key[0] = 1;
  DtlsCookie c(key);
  const auto a = *SocketAddress::parse("192.0.2.1:5000");
  const auto b = *SocketAddress::parse("192.0.2.1:5001");
  uint8_t cookie[DtlsCookie::kSize];
  c.make(a, 1'000'000, cookie);
  const Bytes v(cookie, sizeof cookie);
  EXPECT_TRUE(c.verify(v, a, 1'000'000));
  EXPECT_TRUE(c.verify(v, a, 1'000'000 + 60));    // the next minute still accepts it
  EXPECT_FALSE(c.verify(v, a, 1'000'000 + 150));  // two minutes later it is stale
  EXPECT_FALSE(c.verify(v, b, 1'000'000));        // another port
  cookie[5] ^= 1;
  EXPECT_FALSE(c.verify(v, a, 1'000'000));
  std::array<uint8_t, DtlsCookie::kKeySize> other{};
  c.make(a, 1'000'000, cookie);
  EXPECT_FALSE(DtlsCookie(other).verify(v, a, 1'000'000));  // another process's secret
  EXPECT_FALSE(c.verify(Bytes(cookie, 4), a, 1'000'000));
}

}  // namespace
}  // namespace turnpike::core
