// The one peer policy (relay/peer_policy.h): every encoding of every refused range.
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "relay/peer_policy.h"

namespace turnpike::relay {
namespace {

IpAddress ip(const char* s) {
  auto a = IpAddress::parse(s);
  EXPECT_TRUE(a) << s;
  return *a;
}

TEST(PeerPolicy, CanonicalisesIpv4InIpv6) {
  EXPECT_EQ(PeerPolicy::canonicalize(ip("::ffff:127.0.0.1")), ip("127.0.0.1"));
  EXPECT_EQ(PeerPolicy::canonicalize(ip("::127.0.0.1")), ip("127.0.0.1"));
  EXPECT_EQ(PeerPolicy::canonicalize(ip("64:ff9b::7f00:1")), ip("127.0.0.1"));
  EXPECT_EQ(PeerPolicy::canonicalize(ip("64:ff9b::a9fe:a9fe")), ip("169.254.169.254"));
  EXPECT_EQ(PeerPolicy::canonicalize(ip("::1")), ip("::1"));  // loopback, not ::0.0.0.1
  EXPECT_EQ(PeerPolicy::canonicalize(ip("::")), ip("::"));
  EXPECT_EQ(PeerPolicy::canonicalize(ip("2001:db8::1")), ip("2001:db8::1"));
  EXPECT_EQ(PeerPolicy::canonicalize(ip("8.8.8.8")), ip("8.8.8.8"));
}

TEST(PeerPolicy, RefusedByDefaultInEverySpelling) {
  const PeerPolicy p;
  const char* refused[] = {
      // unspecified (CVE-2020-26262)
      "0.0.0.0",
      "0.1.2.3",
      "::",
      "::ffff:0.0.0.0",
      // loopback (CVE-2018-4058) and its IPv6 spellings (CVE-2026-27624, coturn #1945)
      "127.0.0.1",
      "127.8.9.10",
      "127.255.255.254",
      "::1",
      "::ffff:127.0.0.1",
      "::127.0.0.1",
      "64:ff9b::7f00:1",
      "2002:7f00:1::1",
      // link-local and the cloud metadata address (coturn #1947)
      "169.254.169.254",
      "169.254.0.1",
      "::ffff:169.254.169.254",
      "64:ff9b::a9fe:a9fe",
      "fe80::1",
      "febf::1",
      // private networks (RFC 1918), shared address space (RFC 6598), benchmarking (RFC 2544),
      // in every spelling
      "10.0.0.1",
      "10.255.255.255",
      "::ffff:10.1.2.3",
      "64:ff9b::a01:203",
      "172.16.0.1",
      "172.31.255.254",
      "192.168.1.1",
      "::ffff:192.168.0.1",
      "100.64.0.1",
      "100.127.255.254",
      "198.18.0.1",
      "198.19.255.254",
      // unique local and site-local
      "fc00::1",
      "fd00::2",
      "fd00:ec2::254",
      "fec0::1",
      // multicast and broadcast, reserved
      "224.0.0.1",
      "239.255.255.254",
      "ff02::1",
      "ff0e::1",
      "255.255.255.255",
      "240.0.0.1",
      "::ffff:224.0.0.1",
      // Teredo and 6to4 (RFC 6156 §9.1)
      "2001::1",
      "2001:0:7f00:1::1",
      "2002:c000:204::1",
      "2002::",
  };
  for (const char* s : refused) EXPECT_FALSE(p.check(ip(s))) << s;
}

TEST(PeerPolicy, AllowedByDefault) {
  const PeerPolicy p;
  for (const char* s :
       {"8.8.8.8", "203.0.113.9", "2001:db8::1", "2a00:1450::1", "::ffff:8.8.8.8",
        "64:ff9b::808:808", "1.2.3.4",
        // the neighbours of each private range stay public
        "9.255.255.255", "11.0.0.0", "172.15.255.255", "172.32.0.0", "192.167.255.255",
        "192.169.0.0", "100.63.255.255", "100.128.0.0", "198.17.255.255", "198.20.0.0",
        "fbff:ffff::1", "fe00::1"}) {
    EXPECT_TRUE(p.check(ip(s))) << s;
  }
}

TEST(PeerPolicy, AllowedPeerIpReopensAPrivateVideobridge) {
  PeerPolicy::Options o;
  o.allowed = {*core::IpRange::parse("10.0.0.5"), *core::IpRange::parse("fd00::/64")};
  const PeerPolicy p(o);
  EXPECT_TRUE(p.check(ip("10.0.0.5")));
  EXPECT_TRUE(p.check(ip("::ffff:10.0.0.5")));
  EXPECT_TRUE(p.check(*SocketAddress::parse("10.0.0.5:10000")));
  EXPECT_FALSE(p.check(ip("10.0.0.6")));
  EXPECT_STREQ(p.check(ip("10.0.0.6")).reason, "private (10.0.0.0/8)");
  EXPECT_TRUE(p.check(ip("fd00::7")));
  EXPECT_FALSE(p.check(ip("fd00:0:0:1::7")));
}

TEST(PeerPolicy, ReasonsNameTheRange) {
  const PeerPolicy p;
  EXPECT_STREQ(p.check(ip("::ffff:127.0.0.1")).reason, "loopback");
  EXPECT_STREQ(p.check(ip("2002::1")).reason, "6to4 (2002::/16)");
  EXPECT_STREQ(p.check(ip("169.254.169.254")).reason, "link-local/metadata (169.254.0.0/16)");
}

TEST(PeerPolicy, AllowLoopbackReopensLoopbackOnly) {
  PeerPolicy::Options o;
  o.allow_loopback = true;
  const PeerPolicy p(o);
  EXPECT_TRUE(p.check(ip("127.0.0.1")));
  EXPECT_TRUE(p.check(ip("::1")));
  EXPECT_TRUE(p.check(ip("::ffff:127.0.0.1")));
  EXPECT_FALSE(p.check(ip("169.254.169.254")));
  EXPECT_FALSE(p.check(ip("0.0.0.0")));
  EXPECT_FALSE(p.check(ip("::")));
}

TEST(PeerPolicy, DeniedRangesMatchEverySpelling) {
  PeerPolicy::Options o;
  o.denied = {*core::IpRange::parse("10.0.0.0-10.255.255.255")};
  const PeerPolicy p(o);
  EXPECT_FALSE(p.check(ip("10.1.2.3")));
  EXPECT_FALSE(p.check(ip("::ffff:10.1.2.3")));  // CVE-2026-27624
  EXPECT_FALSE(p.check(ip("64:ff9b::a01:203")));
  EXPECT_STREQ(p.check(ip("10.1.2.3")).reason, "denied-peer-ip");
  EXPECT_TRUE(p.check(ip("11.0.0.1")));
}

TEST(PeerPolicy, JitsiStyleMappedRangeDeniesEveryMappedAddress) {
  PeerPolicy::Options o;
  o.denied = {*core::IpRange::parse("::ffff:0.0.0.0-::ffff:255.255.255.255")};
  const PeerPolicy p(o);
  EXPECT_FALSE(p.check(ip("::ffff:8.8.8.8")));
  EXPECT_TRUE(p.check(ip("8.8.8.8")));
}

TEST(PeerPolicy, AllowedRangeWinsOverEveryRefusal) {
  PeerPolicy::Options o;
  o.denied = {*core::IpRange::parse("10.0.0.0/8")};
  o.allowed = {*core::IpRange::parse("10.0.0.5"), *core::IpRange::parse("169.254.169.254")};
  const PeerPolicy p(o);
  EXPECT_TRUE(p.check(ip("10.0.0.5")));
  EXPECT_TRUE(p.check(ip("::ffff:10.0.0.5")));
  EXPECT_FALSE(p.check(ip("10.0.0.6")));
  EXPECT_TRUE(p.check(ip("169.254.169.254")));  // explicitly reopened
  EXPECT_FALSE(p.check(ip("169.254.169.253")));
}

TEST(PeerPolicy, OwnListenersAreRefusedByPortOnly) {
  PeerPolicy::Options o;
  o.own_listeners = {*SocketAddress::parse("203.0.113.1:3478"),
                     *SocketAddress::parse("[2001:db8::1]:3478")};
  const PeerPolicy p(o);
  EXPECT_FALSE(p.check(*SocketAddress::parse("203.0.113.1:3478")));
  EXPECT_FALSE(p.check(*SocketAddress::parse("[::ffff:203.0.113.1]:3478")));
  EXPECT_FALSE(p.check(*SocketAddress::parse("[2001:db8::1]:3478")));
  EXPECT_TRUE(p.check(*SocketAddress::parse("203.0.113.1:50000")));  // a relayed address
  EXPECT_TRUE(p.check(*SocketAddress::parse("203.0.113.2:3478")));
  EXPECT_TRUE(p.check(ip("203.0.113.1")));  // permissions are per address: allowed
}

}  // namespace
}  // namespace turnpike::relay
