// The relay path (RFC 8656 §10-12): Send and Data indications, ChannelData, counters.
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "relay_fixture.h"

namespace turnpike::relay::test {
namespace {

class DataPath : public RelayTest {
 protected:
  void SetUp() override {
    RelayTest::SetUp();
    ASSERT_TRUE(allocate().ok());
  }
};

TEST_F(DataPath, SendIndicationNeedsAPermission) {
  send_indication("203.0.113.9:7000", "hello");
  EXPECT_TRUE(io.to_peer.empty());
  EXPECT_EQ(allocation()->dropped, 1u);
  ASSERT_TRUE(create_permission({"203.0.113.9"}).ok());
  const size_t responses = io.to_client.size();
  send_indication("203.0.113.9:7000", "hello");
  ASSERT_EQ(io.to_peer.size(), 1u);
  EXPECT_EQ(io.to_peer[0].peer.to_string(), "203.0.113.9:7000");
  EXPECT_EQ(std::string(io.to_peer[0].data.begin(), io.to_peer[0].data.end()), "hello");
  EXPECT_EQ(io.to_peer[0].socket, allocation()->relays[0].socket);
  EXPECT_EQ(io.to_client.size(), responses);  // RFC 8656 §11.2: an indication is never answered
}

TEST_F(DataPath, SendIndicationToAForbiddenPeerIsDroppedAndLoggedOnce) {
  policy_options.allow_loopback = false;
  for (int i = 0; i < 5; ++i) send_indication("127.0.0.1:7000", "x");
  EXPECT_TRUE(io.to_peer.empty());
  ASSERT_EQ(events.refused_list.size(), 1u);
  EXPECT_EQ(events.refused_list[0].code, 0);  // indications are never answered
  EXPECT_EQ(events.refused_list[0].reason, RefusalReason::ForbiddenPeer);
}

TEST_F(DataPath, MalformedSendIndicationsAreDropped) {
  ASSERT_TRUE(create_permission({"203.0.113.9"}).ok());
  feed(build(
      Method::Send, MessageClass::Indication,
      [](core::StunWriter& w) { w.add_text(attr::Data, "no peer"); }, false));
  feed(build(
      Method::Send, MessageClass::Indication,
      [](core::StunWriter& w) {
        w.add_xor_address(attr::XorPeerAddress, *SocketAddress::parse("203.0.113.9:1"));
      },
      false));
  EXPECT_TRUE(io.to_peer.empty());
}

TEST_F(DataPath, ChannelDataGoesToTheBoundPeer) {
  ASSERT_TRUE(channel_bind(0x4001, "203.0.113.9:7000").ok());
  channel_data(0x4001, "payload");
  ASSERT_EQ(io.to_peer.size(), 1u);
  EXPECT_EQ(io.to_peer[0].peer.to_string(), "203.0.113.9:7000");
  EXPECT_EQ(std::string(io.to_peer[0].data.begin(), io.to_peer[0].data.end()), "payload");
  channel_data(0x4002, "unbound");
  EXPECT_EQ(io.to_peer.size(), 1u);
  // Length larger than what arrived: dropped (RFC 8656 §12.5).
  feed({0x40, 0x01, 0x00, 0x20, 'a', 'b'});
  EXPECT_EQ(io.to_peer.size(), 1u);
  // Padding after the data is ignored.
  feed({0x40, 0x01, 0x00, 0x01, 'z', 0, 0, 0});
  ASSERT_EQ(io.to_peer.size(), 2u);
  EXPECT_EQ(io.to_peer[1].data.size(), 1u);
}

TEST_F(DataPath, ChannelDataFromAnotherFiveTupleIsIgnored) {
  ASSERT_TRUE(channel_bind(0x4001, "203.0.113.9:7000").ok());
  client = *SocketAddress::parse("198.51.100.66:1");
  channel_data(0x4001, "spoofed");
  EXPECT_TRUE(io.to_peer.empty());
}

TEST_F(DataPath, PeerDataWithoutPermissionIsDropped) {
  EXPECT_TRUE(peer_sends("203.0.113.9:7000", "nope").empty());
  EXPECT_EQ(allocation()->dropped, 1u);
}

TEST_F(DataPath, PeerDataBecomesADataIndication) {
  ASSERT_TRUE(create_permission({"203.0.113.9"}).ok());
  auto bytes = peer_sends("203.0.113.9:7000", "hello");
  Response r(bytes);
  ASSERT_TRUE(r.msg);
  EXPECT_EQ(r.msg->method(), Method::Data);
  EXPECT_EQ(r.msg->message_class(), MessageClass::Indication);
  EXPECT_EQ(r.address(attr::XorPeerAddress)->to_string(), "203.0.113.9:7000");
  EXPECT_EQ(r.text(attr::Data), "hello");
  EXPECT_EQ(bytes.size() % 4, 0u);
  // Padding bytes are zero, not whatever was in the buffer.
  EXPECT_EQ(bytes[bytes.size() - 1], 0);
  EXPECT_EQ(bytes[bytes.size() - 3], 0);
}

TEST_F(DataPath, PeerDataOnABoundChannelBecomesChannelData) {
  ASSERT_TRUE(channel_bind(0x4abc, "203.0.113.9:7000").ok());
  auto bytes = peer_sends("203.0.113.9:7000", "hello");
  ASSERT_EQ(bytes.size(), 9u);  // not padded over UDP
  EXPECT_EQ(bytes[0], 0x4a);
  EXPECT_EQ(bytes[1], 0xbc);
  EXPECT_EQ(core::load_be16(bytes.data() + 2), 5);
  EXPECT_EQ(std::string(bytes.begin() + 4, bytes.end()), "hello");
  // The same peer IP on another port has only the permission: Data indication.
  Response other(peer_sends("203.0.113.9:7001", "x"));
  ASSERT_TRUE(other.msg);
  EXPECT_EQ(other.msg->method(), Method::Data);
}

TEST_F(DataPath, CountersPerAllocationAndPerPeer) {
  ASSERT_TRUE(channel_bind(0x4001, "203.0.113.9:7000").ok());
  channel_data(0x4001, "12345");
  channel_data(0x4001, "123");
  peer_sends("203.0.113.9:7000", "1234567");
  Allocation* a = allocation();
  EXPECT_EQ(a->from_client.packets, 2u);
  EXPECT_EQ(a->from_client.bytes, 8u);
  EXPECT_EQ(a->to_client.packets, 1u);
  EXPECT_EQ(a->to_client.bytes, 7u);
  ASSERT_EQ(a->permissions.size(), 1u);
  const Permission* p = a->find_permission(*IpAddress::parse("203.0.113.9"));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->to_peer.bytes, 8u);
  EXPECT_EQ(p->from_peer.bytes, 7u);
  ASSERT_TRUE(refresh(0).ok());
  EXPECT_EQ(events.last_bytes_from_client, 8u);
}

class StreamDataPath : public RelayTest {
 protected:
  void SetUp() override {
    transport = Transport::Tcp;
    RelayTest::SetUp();
    ASSERT_TRUE(allocate().ok());
  }
};

TEST_F(StreamDataPath, ChannelDataIsPaddedOverStreams) {
  // RFC 8656 §12.5: over TCP and TLS, ChannelData is padded to a multiple of four bytes.
  ASSERT_TRUE(channel_bind(0x4001, "203.0.113.9:7000").ok());
  auto bytes = peer_sends("203.0.113.9:7000", "hello");
  ASSERT_EQ(bytes.size(), 12u);
  EXPECT_EQ(core::load_be16(bytes.data() + 2), 5);
  EXPECT_EQ(bytes[9], 0);
  EXPECT_EQ(bytes[11], 0);
}

class DualDataPath : public RelayTest {
 protected:
  void SetUp() override {
    RelayTest::SetUp();
    ASSERT_TRUE(allocate([](core::StunWriter& w) {
                  const uint8_t f[4] = {2, 0, 0, 0};
                  w.add(attr::AdditionalAddressFamily, core::Bytes(f, 4));
                }).ok());
  }
};

TEST_F(DualDataPath, EachFamilyUsesItsOwnRelaySocket) {
  ASSERT_TRUE(create_permission({"203.0.113.9", "2001:db8:9::9"}).ok());
  send_indication("203.0.113.9:1", "four");
  send_indication("[2001:db8:9::9]:1", "six");
  ASSERT_EQ(io.to_peer.size(), 2u);
  EXPECT_EQ(io.to_peer[0].socket, allocation()->relays[0].socket);
  EXPECT_EQ(io.to_peer[1].socket, allocation()->relays[1].socket);
  Response r(peer_sends("[2001:db8:9::9]:1", "back", 1));
  ASSERT_TRUE(r.msg);
  EXPECT_EQ(r.address(attr::XorPeerAddress)->to_string(), "[2001:db8:9::9]:1");
}

}  // namespace
}  // namespace turnpike::relay::test
