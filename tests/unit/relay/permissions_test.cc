// CreatePermission (RFC 8656 §9) and ChannelBind (§12.2), and their lifetimes.
#include <cstdint>
#include <ios>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "relay_fixture.h"

namespace turnpike::relay::test {
namespace {

TEST_F(RelayTest, CreatePermissionForSeveralPeers) {
  ASSERT_TRUE(allocate().ok());
  auto r = create_permission({"203.0.113.9", "203.0.113.10"});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(allocation()->permissions.size(), 2u);
  EXPECT_EQ(events.permissions, 2);
  // Refreshing one does not add another.
  ASSERT_TRUE(create_permission({"203.0.113.9"}).ok());
  EXPECT_EQ(allocation()->permissions.size(), 2u);
}

TEST_F(RelayTest, CreatePermissionNeedsAPeer) {
  ASSERT_TRUE(allocate().ok());
  EXPECT_EQ(request(Method::CreatePermission, nullptr).error(), 400);
  auto r = request(Method::CreatePermission, [](core::StunWriter& w) {
    const uint8_t bad[8] = {0, 3, 0, 0, 1, 2, 3, 4};  // unknown family
    w.add(attr::XorPeerAddress, core::Bytes(bad, 8));
  });
  EXPECT_EQ(r.error(), 400);
}

TEST_F(RelayTest, PeerFamilyMustMatchARelayedAddress) {
  ASSERT_TRUE(allocate().ok());
  EXPECT_EQ(create_permission({"2001:db8:9::9"}).error(), 443);
  EXPECT_EQ(channel_bind(0x4001, "[2001:db8:9::9]:9").error(), 443);
}

TEST_F(RelayTest, ForbiddenPeerIs403AndNothingIsInstalled) {
  ASSERT_TRUE(allocate().ok());
  auto r = create_permission({"203.0.113.9", "127.0.0.1"});
  EXPECT_EQ(r.error(), 403);
  EXPECT_EQ(r.reason(), "Forbidden");  // authenticated: reason phrases are sent
  EXPECT_TRUE(r.msg->message_integrity());
  EXPECT_TRUE(allocation()->permissions.empty());  // all or nothing (RFC 8656 §9.2)
  ASSERT_EQ(events.refused_list.size(), 1u);
  EXPECT_EQ(events.refused_list[0].reason, RefusalReason::ForbiddenPeer);
  ASSERT_TRUE(events.refused_list[0].peer);
  EXPECT_EQ(events.refused_list[0].peer->ip().to_string(), "127.0.0.1");
  EXPECT_EQ(events.refused_list[0].detail, "loopback");
}

TEST_F(RelayTest, PermissionCapIs508) {
  settings.max_permissions = 2;
  start(0, 0);
  ASSERT_TRUE(allocate().ok());
  ASSERT_TRUE(create_permission({"203.0.113.1", "203.0.113.2"}).ok());
  EXPECT_EQ(create_permission({"203.0.113.3"}).error(), 508);
  EXPECT_TRUE(create_permission({"203.0.113.2"}).ok());  // refreshing is fine
  EXPECT_EQ(channel_bind(0x4001, "203.0.113.4:9").error(), 508);
}

TEST_F(RelayTest, PermissionsExpireAfterFiveMinutes) {
  ASSERT_TRUE(allocate().ok());
  ASSERT_TRUE(create_permission({"203.0.113.9"}).ok());
  ASSERT_TRUE(refresh(3600).ok());
  advance(299);
  send_indication("203.0.113.9:7", "x");
  EXPECT_EQ(io.to_peer.size(), 1u);
  advance(1);
  send_indication("203.0.113.9:7", "x");
  EXPECT_EQ(io.to_peer.size(), 1u);  // expired: dropped even before the tick removes it
  server->tick(now);
  EXPECT_TRUE(allocation()->permissions.empty());
}

TEST_F(RelayTest, ChannelBindInstallsAPermission) {
  ASSERT_TRUE(allocate().ok());
  auto r = channel_bind(0x4001, "203.0.113.9:5000");
  ASSERT_TRUE(r.ok()) << r.error();
  ASSERT_EQ(allocation()->channels.size(), 1u);
  ASSERT_NE(allocation()->find_channel(0x4001), nullptr);
  EXPECT_EQ(allocation()->find_channel(0x4001)->peer.to_string(), "203.0.113.9:5000");
  ASSERT_EQ(allocation()->permissions.size(), 1u);
  EXPECT_NE(allocation()->find_permission(*IpAddress::parse("203.0.113.9")), nullptr);
  EXPECT_EQ(events.channels, 1);
}

TEST_F(RelayTest, ChannelNumbersOutsideTheRangeAre400) {
  ASSERT_TRUE(allocate().ok());
  for (uint16_t ch : {0x0000, 0x3FFF, 0x8000, 0xFFFF}) {
    EXPECT_EQ(channel_bind(ch, "203.0.113.9:5000").error(), 400) << std::hex << ch;
  }
  EXPECT_TRUE(channel_bind(0x4000, "203.0.113.9:5000").ok());
  // RFC 5766's upper half, still used by libwebrtc and coturn's client (see channel_number.h).
  EXPECT_TRUE(channel_bind(0x7FFF, "203.0.113.9:5001").ok());
  EXPECT_TRUE(channel_bind(0x4FFF, "203.0.113.9:5002").ok());
}

TEST_F(RelayTest, ChannelBindNeedsNumberAndPeer) {
  ASSERT_TRUE(allocate().ok());
  EXPECT_EQ(request(Method::ChannelBind,
                    [](core::StunWriter& w) {
                      w.add_xor_address(attr::XorPeerAddress,
                                        *SocketAddress::parse("203.0.113.9:1"));
                    })
                .error(),
            400);
  EXPECT_EQ(request(Method::ChannelBind,
                    [](core::StunWriter& w) {
                      const uint8_t v[4] = {0x40, 0x01, 0, 0};
                      w.add(attr::ChannelNumber, core::Bytes(v, 4));
                    })
                .error(),
            400);
}

TEST_F(RelayTest, RebindingRules) {
  ASSERT_TRUE(allocate().ok());
  ASSERT_TRUE(channel_bind(0x4001, "203.0.113.9:5000").ok());
  // The same pair again refreshes it.
  EXPECT_TRUE(channel_bind(0x4001, "203.0.113.9:5000").ok());
  // The channel to another peer, or the peer to another channel: 400, binding unchanged.
  EXPECT_EQ(channel_bind(0x4001, "203.0.113.9:5001").error(), 400);
  EXPECT_EQ(channel_bind(0x4002, "203.0.113.9:5000").error(), 400);
  ASSERT_EQ(allocation()->channels.size(), 1u);
  ASSERT_NE(allocation()->find_channel(0x4001), nullptr);
  EXPECT_EQ(allocation()->find_channel(0x4001)->peer.to_string(), "203.0.113.9:5000");
  // Another peer on the same IP (other port) gets its own channel.
  EXPECT_TRUE(channel_bind(0x4002, "203.0.113.9:5001").ok());
}

TEST_F(RelayTest, ChannelsExpireThenCoolForFiveMinutes) {
  ASSERT_TRUE(allocate().ok());
  ASSERT_TRUE(refresh(3600).ok());
  ASSERT_TRUE(channel_bind(0x4001, "203.0.113.9:5000").ok());
  advance(600);
  ASSERT_TRUE(create_permission({"203.0.113.9"}).ok());
  server->tick(now);
  channel_data(0x4001, "late");
  EXPECT_TRUE(io.to_peer.empty());  // the binding expired
  // RFC 8656 §12: for five more minutes neither the number nor the peer may be rebound elsewhere.
  EXPECT_EQ(channel_bind(0x4001, "203.0.113.9:6000").error(), 400);
  EXPECT_EQ(channel_bind(0x4003, "203.0.113.9:5000").error(), 400);
  advance(300);
  server->tick(now);
  EXPECT_TRUE(channel_bind(0x4001, "203.0.113.9:6000").ok());
}

TEST_F(RelayTest, ExpiredChannelCanBeRevivedWithTheSamePeer) {
  ASSERT_TRUE(allocate().ok());
  ASSERT_TRUE(refresh(3600).ok());
  ASSERT_TRUE(channel_bind(0x4001, "203.0.113.9:5000").ok());
  advance(700);
  server->tick(now);
  ASSERT_TRUE(channel_bind(0x4001, "203.0.113.9:5000").ok());
  channel_data(0x4001, "again");
  EXPECT_EQ(io.to_peer.size(), 1u);
}

TEST_F(RelayTest, ChannelBindToAForbiddenPeerIs403) {
  ASSERT_TRUE(allocate().ok());
  EXPECT_EQ(channel_bind(0x4001, "169.254.169.254:80").error(), 403);
  EXPECT_EQ(events.refused_list.back().peer->to_string(), "169.254.169.254:80");
}

TEST_F(RelayTest, TheServersOwnListenerIsForbiddenButOtherRelaysAreNot) {
  policy_options.own_listeners = {local};
  start(0, 0);
  ASSERT_TRUE(allocate().ok());
  EXPECT_EQ(channel_bind(0x4001, "192.0.2.1:3478").error(), 403);
  // Another allocation's relayed address on this server (a relay-relay ICE pair) is fine.
  EXPECT_TRUE(channel_bind(0x4002, "192.0.2.1:50002").ok());
  EXPECT_TRUE(create_permission({"192.0.2.1"}).ok());
}

TEST_F(RelayTest, ChannelCapIs508CoolingChannelsIncluded) {
  settings.max_channels = 2;
  start(0, 0);
  ASSERT_TRUE(allocate().ok());
  ASSERT_TRUE(refresh(3600).ok());
  ASSERT_TRUE(channel_bind(0x4001, "203.0.113.1:9").ok());
  ASSERT_TRUE(channel_bind(0x4002, "203.0.113.2:9").ok());
  EXPECT_EQ(channel_bind(0x4003, "203.0.113.3:9").error(), 508);
  EXPECT_EQ(events.refused_list.back().detail, "max-channels reached for this allocation");
  EXPECT_TRUE(channel_bind(0x4002, "203.0.113.2:9").ok());  // refreshing is fine
  // Expired but cooling (RFC 8656 §12): still counted, so still 508 ...
  advance(600);
  server->tick(now);
  EXPECT_EQ(channel_bind(0x4003, "203.0.113.3:9").error(), 508);
  // ... until the five minutes of cooling are over.
  advance(300);
  server->tick(now);
  EXPECT_EQ(allocation()->channels.size(), 0u);
  EXPECT_TRUE(channel_bind(0x4003, "203.0.113.3:9").ok());
}

}  // namespace
}  // namespace turnpike::relay::test
