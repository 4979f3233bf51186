// ConnectionLimits: the caps on stream connections (per address, per IPv6 /64, in total, with
// the reserve for newcomers past the total), and that every slot is given back.
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "net/connection_limits.h"

namespace turnpike::net {
namespace {

core::IpAddress ip(const char* text) { return *core::IpAddress::parse(text); }

TEST(ConnectionLimits, PerAddress) {
  ConnectionLimits l;
  l.set_caps({.per_address = 2});
  auto a = l.acquire(ip("192.0.2.1"));
  auto b = l.acquire(ip("192.0.2.1"));
  ASSERT_TRUE(a && b);
  ConnectionCap cap = ConnectionCap::None;
  EXPECT_FALSE(l.acquire(ip("192.0.2.1"), &cap));
  EXPECT_EQ(cap, ConnectionCap::PerAddress);
  EXPECT_EQ(l.refusal_text(cap), "max-connections-per-ip (2) reached");
  EXPECT_TRUE(l.acquire(ip("192.0.2.2")));  // another address (given back at once)
  a.reset();
  EXPECT_EQ(l.count(ip("192.0.2.1")), 1u);
  EXPECT_TRUE(l.acquire(ip("192.0.2.1"), &cap));
  EXPECT_EQ(cap, ConnectionCap::None);
}

TEST(ConnectionLimits, OneIpv6Slash64CountsTogether) {
  ConnectionLimits l;
  l.set_caps({.per_address = 2, .per_ipv6_64 = 3});
  std::vector<ConnectionLimits::Slot> held;
  for (const char* a : {"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff:ffff:ffff:ffff"}) {
    auto s = l.acquire(ip(a));
    ASSERT_TRUE(s) << a;
    held.push_back(std::move(*s));
  }
  ConnectionCap cap = ConnectionCap::None;
  EXPECT_FALSE(l.acquire(ip("2001:db8:1:2::99"), &cap));  // a fresh address of the same /64
  EXPECT_EQ(cap, ConnectionCap::PerIpv6Prefix);
  EXPECT_EQ(l.refusal_text(cap), "max-connections-per-ipv6-64 (3) reached");
  EXPECT_EQ(l.count_ipv6_64(ip("2001:db8:1:2::abcd")), 3u);
  EXPECT_TRUE(l.acquire(ip("2001:db8:1:3::1")));  // the next /64
  held.pop_back();
  EXPECT_TRUE(l.acquire(ip("2001:db8:1:2::99")));
  held.clear();
  EXPECT_EQ(l.count_ipv6_64(ip("2001:db8:1:2::1")), 0u);
  EXPECT_EQ(l.total(), 0u);
}

TEST(ConnectionLimits, Ipv4AndMappedAddressesHaveNoSlash64) {
  EXPECT_FALSE(ConnectionLimits::ipv6_64_of(ip("192.0.2.1")));
  EXPECT_FALSE(ConnectionLimits::ipv6_64_of(ip("::ffff:192.0.2.1")));
  EXPECT_EQ(ConnectionLimits::ipv6_64_of(ip("2001:db8:a:b:c:d:e:f"))->to_string(), "2001:db8:a:b::");
  ConnectionLimits l;
  l.set_caps({.per_ipv6_64 = 1});
  auto a = l.acquire(ip("::ffff:192.0.2.1"));
  auto b = l.acquire(ip("::ffff:192.0.2.2"));  // not one "/64" for every IPv4 client
  EXPECT_TRUE(a && b);
}

TEST(ConnectionLimits, TotalWithAReserveForNewcomers) {
  ConnectionLimits l;
  l.set_caps({.total = 4, .newcomer_reserve = 2});
  std::vector<ConnectionLimits::Slot> held;
  for (int i = 0; i < 4; ++i) held.push_back(std::move(*l.acquire(ip("192.0.2.1"))));
  ConnectionCap cap = ConnectionCap::None;
  // The address that filled the server gets nothing of the reserve.
  EXPECT_FALSE(l.acquire(ip("192.0.2.1"), &cap));
  EXPECT_EQ(cap, ConnectionCap::Total);
  EXPECT_EQ(l.refusal_text(cap), "max-connections (4) reached");
  // Addresses (and /64s) that hold nothing get in, up to the reserve.
  auto n1 = l.acquire(ip("192.0.2.7"));
  auto n2 = l.acquire(ip("2001:db8::7"));
  ASSERT_TRUE(n1 && n2);
  EXPECT_FALSE(l.acquire(ip("192.0.2.7"), &cap));  // no second one in the reserve
  EXPECT_FALSE(l.acquire(ip("2001:db8::8"), &cap));  // nor for its /64
  EXPECT_FALSE(l.acquire(ip("192.0.2.8"), &cap));  // the reserve is full
  EXPECT_EQ(cap, ConnectionCap::Total);
  EXPECT_EQ(l.total(), 6u);
  held.clear();
  n1.reset();
  n2.reset();
  EXPECT_EQ(l.total(), 0u);
  EXPECT_TRUE(l.acquire(ip("192.0.2.8")));
}

TEST(ConnectionLimits, ZeroMeansNoLimitButStillCounts) {
  ConnectionLimits l;
  std::vector<ConnectionLimits::Slot> held;
  for (int i = 0; i < 1000; ++i) held.push_back(std::move(*l.acquire(ip("2001:db8::1"))));
  EXPECT_EQ(l.count(ip("2001:db8::1")), 1000u);
  EXPECT_EQ(l.count_ipv6_64(ip("2001:db8::2")), 1000u);
  EXPECT_EQ(l.total(), 1000u);
}

}  // namespace
}  // namespace turnpike::net
