// RelayPorts' EVEN-PORT reservations (RFC 8656 §7.2): kept 30 seconds, taken once, and expired in
// the order they were made. Binds real sockets on 127.0.0.1.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "net/relay_ports.h"

namespace turnpike::net {
namespace {

const core::IpAddress kLoopback = *core::IpAddress::parse("127.0.0.1");

TEST(RelayPorts, ReservationsExpireAfterThirtySecondsInOrder) {
  RelayPorts ports(40000, 59999);
  std::vector<uint64_t> tokens;
  std::vector<BoundSocket> kept;  // the even halves, held like allocations hold them
  for (int i = 0; i < 3; ++i) {
    uint64_t token = 0;
    auto s = ports.bind(kLoopback, true, true, &token, 1'000 + int64_t(i) * 10'000);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->address.port() % 2, 0);
    ASSERT_NE(token, 0u);
    tokens.push_back(token);
    kept.push_back(std::move(*s));
  }
  EXPECT_EQ(ports.reservation_count(), 3u);
  ports.expire(30'999);
  EXPECT_EQ(ports.reservation_count(), 3u);
  ports.expire(31'000);  // the first one's 30 s are over
  EXPECT_EQ(ports.reservation_count(), 2u);
  EXPECT_FALSE(ports.take(tokens[0]));
  // Taken before its time: the socket is the odd port next to its pair.
  auto second = ports.take(tokens[1]);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->address.port(), kept[1].address.port() + 1);
  EXPECT_FALSE(ports.take(tokens[1]));  // once only
  EXPECT_EQ(ports.reservation_count(), 1u);
  ports.expire(41'000);  // the second's deadline: it is gone already, nothing else goes
  EXPECT_EQ(ports.reservation_count(), 1u);
  ports.expire(51'000);
  EXPECT_EQ(ports.reservation_count(), 0u);
}

}  // namespace
}  // namespace turnpike::net
