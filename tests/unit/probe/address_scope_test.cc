// Address scopes: whether a relayed address can be reached by a remote user.
#include <gtest/gtest.h>

#include "probe/address_scope.h"

namespace turnpike::probe {
namespace {

Scope of(const char* text) {
  return scope_of(*core::IpAddress::parse(text));
}

TEST(AddressScope, Ipv4) {
  EXPECT_EQ(of("127.0.0.1"), Scope::Loopback);
  EXPECT_EQ(of("127.255.0.9"), Scope::Loopback);
  EXPECT_EQ(of("10.99.0.2"), Scope::Private);
  EXPECT_EQ(of("172.16.0.1"), Scope::Private);
  EXPECT_EQ(of("172.31.255.255"), Scope::Private);
  EXPECT_EQ(of("172.32.0.1"), Scope::Global);
  EXPECT_EQ(of("192.168.1.1"), Scope::Private);
  EXPECT_EQ(of("169.254.169.254"), Scope::LinkLocal);
  EXPECT_EQ(of("100.64.0.1"), Scope::SharedNat);
  EXPECT_EQ(of("100.128.0.1"), Scope::Global);
  EXPECT_EQ(of("0.0.0.0"), Scope::Unspecified);
  EXPECT_EQ(of("203.0.113.1"), Scope::Global);
  EXPECT_EQ(of("8.8.8.8"), Scope::Global);
}

TEST(AddressScope, Ipv6) {
  EXPECT_EQ(of("::1"), Scope::Loopback);
  EXPECT_EQ(of("::"), Scope::Unspecified);
  EXPECT_EQ(of("fe80::1"), Scope::LinkLocal);
  EXPECT_EQ(of("fd00::5"), Scope::Private);
  EXPECT_EQ(of("fc12::5"), Scope::Private);
  EXPECT_EQ(of("2001:db8::1"), Scope::Global);
  // IPv4-mapped: judged as the IPv4 address inside.
  EXPECT_EQ(of("::ffff:10.0.0.1"), Scope::Private);
  EXPECT_EQ(of("::ffff:127.0.0.1"), Scope::Loopback);
  EXPECT_EQ(of("::ffff:198.51.100.7"), Scope::Global);
  EXPECT_TRUE(globally_reachable(Scope::Global));
  EXPECT_FALSE(globally_reachable(Scope::SharedNat));
}

}  // namespace
}  // namespace turnpike::probe
