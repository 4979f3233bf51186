// Allocate (RFC 8656 §7.1-7.2), Refresh (§7.3), lifetimes and the end of allocations.
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "relay_fixture.h"

namespace turnpike::relay::test {
namespace {

TEST_F(RelayTest, AllocateAnswersRelayedMappedAndLifetime) {
  auto r = allocate();
  ASSERT_TRUE(r.ok());
  auto relayed = r.address(attr::XorRelayedAddress);
  ASSERT_TRUE(relayed);
  EXPECT_EQ(relayed->ip().to_string(), "192.0.2.1");  // the address the client reached
  EXPECT_EQ(r.address(attr::XorMappedAddress), client);
  EXPECT_EQ(r.u32(attr::Lifetime), 600u);  // RFC 8656 §3.2 default
  ASSERT_EQ(io.opened.size(), 1u);
  EXPECT_EQ(io.opened[0].family, Family::V4);
  EXPECT_FALSE(io.opened[0].even_port);
}

TEST_F(RelayTest, LifetimeIsClampedBetweenDefaultAndMaximum) {
  auto r = allocate([](core::StunWriter& w) { w.add_u32(attr::Lifetime, 0xFFFFFFFF); });
  EXPECT_EQ(r.u32(attr::Lifetime), 3600u);
  client = *SocketAddress::parse("198.51.100.10:40100");
  nonce.clear();
  r = allocate([](core::StunWriter& w) { w.add_u32(attr::Lifetime, 30); });
  EXPECT_EQ(r.u32(attr::Lifetime), 600u);  // never below the default (RFC 8656 §7.2)
  client = *SocketAddress::parse("198.51.100.10:40101");
  nonce.clear();
  r = allocate([](core::StunWriter& w) { w.add_u32(attr::Lifetime, 1200); });
  EXPECT_EQ(r.u32(attr::Lifetime), 1200u);
  client = *SocketAddress::parse("198.51.100.10:40102");
  nonce.clear();
  r = allocate([](core::StunWriter& w) {
    const uint8_t bad[2] = {0, 1};
    w.add(attr::Lifetime, core::Bytes(bad, 2));
  });
  EXPECT_EQ(r.error(), 400);
}

TEST_F(RelayTest, RetransmittedAllocateGetsTheSameAnswerAndNoSecondAllocation) {
  get_nonce();
  const uint8_t txid[12] = {0xAA, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  auto req = build(
      Method::Allocate, MessageClass::Request,
      [](core::StunWriter& w) { w.add(attr::RequestedTransport, core::Bytes(kUdp, 4)); }, true,
      txid);
  auto first = one(req);
  ASSERT_TRUE(first.ok());
  auto again = one(req);
  EXPECT_EQ(again.bytes, first.bytes);
  EXPECT_EQ(io.opened.size(), 1u);
  EXPECT_EQ(server->allocation_count(), 1u);
  EXPECT_EQ(events.started.size(), 1u);
  // After other requests pushed it out of the response cache, it is still answered as success
  // (rebuilt), not 437, and still no second allocation.
  ASSERT_TRUE(refresh(600).ok());
  ASSERT_TRUE(create_permission({"203.0.113.9"}).ok());
  ASSERT_TRUE(refresh(600).ok());
  auto late = one(req);
  ASSERT_TRUE(late.ok()) << late.error();
  EXPECT_EQ(late.address(attr::XorRelayedAddress), first.address(attr::XorRelayedAddress));
  EXPECT_EQ(io.opened.size(), 1u);
}

TEST_F(RelayTest, RetransmittedRequestsAreNotExecutedTwice) {
  ASSERT_TRUE(allocate().ok());
  const uint8_t txid[12] = {0xBB};
  auto req = build(
      Method::CreatePermission, MessageClass::Request,
      [](core::StunWriter& w) {
        w.add_xor_address(attr::XorPeerAddress, *SocketAddress::parse("203.0.113.9:0"));
      },
      true, txid);
  auto a = one(req);
  auto b = one(req);
  EXPECT_EQ(a.bytes, b.bytes);
  EXPECT_EQ(events.permissions, 1);
}

TEST_F(RelayTest, SecondAllocateOnTheSameFiveTupleIs437) {
  ASSERT_TRUE(allocate().ok());
  EXPECT_EQ(allocate().error(), 437);
  EXPECT_EQ(server->allocation_count(), 1u);
}

TEST_F(RelayTest, RequestedTransportRules) {
  // RFC 8656 §7.2: missing -> 400; a protocol the server does not relay -> 442.
  // RFC 6062 §5.1 item 1: UDP forbidden by local policy (no-udp-relay) -> 403.
  auto r = request(Method::Allocate, nullptr);
  EXPECT_EQ(r.error(), 400);
  // Without TCP relaying (this fixture), TCP is as unsupported as any other protocol; the
  // 400 for TCP over UDP is in tcp_relay_test.cc.
  for (uint8_t proto : {uint8_t(6), uint8_t(0), uint8_t(1), uint8_t(255)}) {
    r = request(Method::Allocate, [&](core::StunWriter& w) {
      const uint8_t v[4] = {proto, 0, 0, 0};
      w.add(attr::RequestedTransport, core::Bytes(v, 4));
    });
    EXPECT_EQ(r.error(), 442) << int(proto);
  }
  r = request(Method::Allocate, [](core::StunWriter& w) {
    const uint8_t v[2] = {17, 0};
    w.add(attr::RequestedTransport, core::Bytes(v, 2));
  });
  EXPECT_EQ(r.error(), 400);
  settings.udp_relay = false;
  start(0, 0);
  nonce.clear();
  EXPECT_EQ(allocate().error(), 403);
}

TEST_F(RelayTest, DontFragmentIsHonoured) {
  ASSERT_TRUE(allocate([](core::StunWriter& w) { w.add_empty(attr::DontFragment); }).ok());
  EXPECT_TRUE(io.opened.back().dont_fragment);
}

TEST_F(RelayTest, EvenPortWithReservation) {
  auto r = allocate([](core::StunWriter& w) {
    const uint8_t r_bit = 0x80;
    w.add(attr::EvenPort, core::Bytes(&r_bit, 1));
  });
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(io.opened.back().even_port);
  EXPECT_TRUE(io.opened.back().reserve_next);
  auto token = r.msg->find(attr::ReservationToken);
  ASSERT_TRUE(token);
  EXPECT_EQ(core::load_be64(r.msg->value(*token).data()), 0x1122334455667788ull);
  // The second allocation names the token.
  client = *SocketAddress::parse("198.51.100.10:40200");
  nonce.clear();
  r = allocate([](core::StunWriter& w) {
    uint8_t t[8];
    core::store_be64(t, 0x1122334455667788ull);
    w.add(attr::ReservationToken, core::Bytes(t, 8));
  });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(io.opened.back().reservation_token, 0x1122334455667788ull);
}

TEST_F(RelayTest, ReservationTokenExcludesEvenPortAndFamilies) {
  auto token = [](core::StunWriter& w) {
    uint8_t t[8] = {1};
    w.add(attr::ReservationToken, core::Bytes(t, 8));
  };
  EXPECT_EQ(allocate([&](core::StunWriter& w) {
              token(w);
              const uint8_t e = 0;
              w.add(attr::EvenPort, core::Bytes(&e, 1));
            }).error(),
            400);
  EXPECT_EQ(allocate([&](core::StunWriter& w) {
              token(w);
              const uint8_t f[4] = {1, 0, 0, 0};
              w.add(attr::RequestedAddressFamily, core::Bytes(f, 4));
            }).error(),
            400);
  EXPECT_EQ(allocate([&](core::StunWriter& w) {
              const uint8_t t[6] = {1};
              w.add(attr::ReservationToken, core::Bytes(t, 6));
            }).error(),
            400);
  io.fail_with = 508;  // the network layer does not know the token
  EXPECT_EQ(allocate(token).error(), 508);
  ASSERT_FALSE(io.opened.empty());
  EXPECT_TRUE(io.opened.back().reservation_token.has_value());
}

TEST_F(RelayTest, RequestedAddressFamily) {
  auto v6 = [](core::StunWriter& w) {
    const uint8_t f[4] = {2, 0, 0, 0};
    w.add(attr::RequestedAddressFamily, core::Bytes(f, 4));
  };
  auto r = allocate(v6);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.address(attr::XorRelayedAddress)->ip().to_string(), "2001:db8::1");
  client = *SocketAddress::parse("198.51.100.10:40300");
  nonce.clear();
  // Family 0x03 is not one the server supports: 440.
  r = allocate([](core::StunWriter& w) {
    const uint8_t f[4] = {3, 0, 0, 0};
    w.add(attr::RequestedAddressFamily, core::Bytes(f, 4));
  });
  EXPECT_EQ(r.error(), 440);
  r = allocate([](core::StunWriter& w) {
    const uint8_t f[2] = {1, 0};
    w.add(attr::RequestedAddressFamily, core::Bytes(f, 2));
  });
  EXPECT_EQ(r.error(), 400);
  // No IPv6 relay address configured: 440.
  settings.relay_addresses = {*IpAddress::parse("192.0.2.1")};
  start(0, 0);
  nonce.clear();
  EXPECT_EQ(allocate(v6).error(), 440);
}

TEST_F(RelayTest, DualAllocation) {
  auto both = [](core::StunWriter& w) {
    const uint8_t f[4] = {2, 0, 0, 0};
    w.add(attr::AdditionalAddressFamily, core::Bytes(f, 4));
  };
  auto r = allocate(both);
  ASSERT_TRUE(r.ok());
  auto relayed = r.addresses(attr::XorRelayedAddress);
  ASSERT_EQ(relayed.size(), 2u);
  EXPECT_TRUE(relayed[0].ip().is_v4());
  EXPECT_TRUE(relayed[1].ip().is_v6());
  EXPECT_FALSE(r.has(attr::AddressErrorCode));
  // ADDITIONAL-ADDRESS-FAMILY IPv4 and REQUESTED + ADDITIONAL together are 400.
  client = *SocketAddress::parse("198.51.100.10:40400");
  nonce.clear();
  EXPECT_EQ(allocate([](core::StunWriter& w) {
              const uint8_t f[4] = {1, 0, 0, 0};
              w.add(attr::AdditionalAddressFamily, core::Bytes(f, 4));
            }).error(),
            400);
  EXPECT_EQ(allocate([&](core::StunWriter& w) {
              both(w);
              const uint8_t f[4] = {1, 0, 0, 0};
              w.add(attr::RequestedAddressFamily, core::Bytes(f, 4));
            }).error(),
            400);
  // The IPv6 half fails: success with IPv4 only and ADDRESS-ERROR-CODE for IPv6.
  io.fail_with = 508;
  io.fail_family = Family::V6;
  r = allocate(both);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.addresses(attr::XorRelayedAddress).size(), 1u);
  auto aec = r.msg->find(attr::AddressErrorCode);
  ASSERT_TRUE(aec);
  EXPECT_EQ(r.msg->value(*aec)[0], 0x02);
  EXPECT_EQ(r.msg->value(*aec)[2] * 100 + r.msg->value(*aec)[3], 508);
}

TEST_F(RelayTest, KeepFamilyFollowsTheClient) {
  settings.default_family = DefaultFamily::Keep;
  start(0, 0);
  client = *SocketAddress::parse("[2001:db8:c::10]:40000");
  local = *SocketAddress::parse("[2001:db8::1]:3478");
  auto r = allocate();
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.address(attr::XorRelayedAddress)->ip().is_v6());
}

TEST_F(RelayTest, ExternalAddressIsAnnounced) {
  settings.external = {{*IpAddress::parse("203.0.113.77"), *IpAddress::parse("192.0.2.1")}};
  start(0, 0);
  auto r = allocate();
  ASSERT_TRUE(r.ok());
  auto relayed = r.address(attr::XorRelayedAddress);
  EXPECT_EQ(relayed->ip().to_string(), "203.0.113.77");
  EXPECT_EQ(relayed->port(), allocation()->relays[0].bound.port());
  EXPECT_EQ(allocation()->relays[0].bound.ip().to_string(), "192.0.2.1");
}

TEST_F(RelayTest, UserQuotaIs486AndTotalQuotaIs508) {
  start(1, 0);
  ASSERT_TRUE(allocate().ok());
  client = *SocketAddress::parse("198.51.100.10:40500");
  nonce.clear();
  use_rest_user("alice", 7200);  // a fresh credential of the same user shares the quota
  EXPECT_EQ(allocate().error(), 486);
  EXPECT_EQ(events.refused_list.back().reason, RefusalReason::Quota);
  use_rest_user("bob");
  EXPECT_TRUE(allocate().ok());

  start(0, 1);
  client = *SocketAddress::parse("198.51.100.10:40600");
  nonce.clear();
  ASSERT_TRUE(allocate().ok());
  client = *SocketAddress::parse("198.51.100.10:40601");
  nonce.clear();
  EXPECT_EQ(allocate().error(), 508);
  // Deleting frees the quota.
  client = *SocketAddress::parse("198.51.100.10:40600");
  nonce.clear();
  ASSERT_TRUE(refresh(0).ok());
  client = *SocketAddress::parse("198.51.100.10:40601");
  nonce.clear();
  EXPECT_TRUE(allocate().ok());
}

// Review §5.8: "<user>:<expiry>" usernames, which the credential parser accepts, share their
// user's quota with "<expiry>:<user>" ones (the quota key once stripped a numeric prefix only).
TEST_F(RelayTest, UserQuotaKeyIsTheSameForBothUsernameForms) {
  start(2, 0);
  ASSERT_TRUE(allocate().ok());  // "<expiry>:alice"
  for (int i = 0; i < 2; ++i) {
    client = SocketAddress(client.ip(), uint16_t(41000 + i));
    nonce.clear();
    username = "alice:" + std::to_string(now.unix_s() + 600 + i);
    password = core::rest_password(kSecret, username);
    if (i == 0) {
      EXPECT_TRUE(allocate().ok());
    } else {
      EXPECT_EQ(allocate().error(), 486);
    }
  }
  // Credentials without a user part each stand for themselves.
  for (int i = 0; i < 3; ++i) {
    client = SocketAddress(client.ip(), uint16_t(42000 + i));
    nonce.clear();
    use_rest_user("", 600 + i);
    EXPECT_TRUE(allocate().ok()) << i;
  }
}

TEST_F(RelayTest, NoRelayPortIs508AndReleasesTheQuota) {
  start(1, 0);
  io.fail_with = 508;
  EXPECT_EQ(allocate().error(), 508);
  EXPECT_EQ(events.refused_list.back().reason, RefusalReason::Capacity);
  io.fail_with = 0;
  EXPECT_TRUE(allocate().ok());  // the failed attempt did not keep the user's quota
}

TEST_F(RelayTest, RefreshExtendsAndZeroDeletes) {
  ASSERT_TRUE(allocate().ok());
  auto r = refresh(1800);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.u32(attr::Lifetime), 1800u);
  EXPECT_EQ(refresh(99999).u32(attr::Lifetime), 3600u);
  EXPECT_EQ(refresh(std::nullopt).u32(attr::Lifetime), 600u);
  r = refresh(0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.u32(attr::Lifetime), 0u);
  EXPECT_EQ(server->allocation_count(), 0u);
  EXPECT_TRUE(io.open_sockets.empty());
  ASSERT_EQ(events.ended.size(), 1u);
  EXPECT_EQ(events.ended[0].second, EndReason::Refresh0);
  // RFC 8656 §7.3: a Refresh without an allocation (e.g. a retransmitted Refresh 0) is 437.
  EXPECT_EQ(refresh(0).error(), 437);
  EXPECT_EQ(create_permission({"203.0.113.9"}).error(), 437);
}

TEST_F(RelayTest, RefreshWithAFamilyTheAllocationLacksIs443) {
  ASSERT_TRUE(allocate().ok());
  auto r = request(Method::Refresh, [](core::StunWriter& w) {
    w.add_u32(attr::Lifetime, 600);
    const uint8_t f[4] = {2, 0, 0, 0};
    w.add(attr::RequestedAddressFamily, core::Bytes(f, 4));
  });
  EXPECT_EQ(r.error(), 443);
}

TEST_F(RelayTest, DeletingOneFamilyOfADualAllocation) {
  ASSERT_TRUE(allocate([](core::StunWriter& w) {
                const uint8_t f[4] = {2, 0, 0, 0};
                w.add(attr::AdditionalAddressFamily, core::Bytes(f, 4));
              }).ok());
  auto r = request(Method::Refresh, [](core::StunWriter& w) {
    w.add_u32(attr::Lifetime, 0);
    const uint8_t f[4] = {2, 0, 0, 0};
    w.add(attr::RequestedAddressFamily, core::Bytes(f, 4));
  });
  ASSERT_TRUE(r.ok());
  ASSERT_NE(allocation(), nullptr);
  EXPECT_EQ(allocation()->relay_count, 1);
  EXPECT_TRUE(allocation()->relays[0].bound.ip().is_v4());
  EXPECT_EQ(io.open_sockets.size(), 1u);
}

TEST_F(RelayTest, AllocationsExpireOnTheTick) {
  ASSERT_TRUE(allocate().ok());
  advance(599);
  server->tick(now);
  EXPECT_EQ(server->allocation_count(), 1u);
  advance(1);
  server->tick(now);
  EXPECT_EQ(server->allocation_count(), 0u);
  ASSERT_EQ(events.ended.size(), 1u);
  EXPECT_EQ(events.ended[0].second, EndReason::Expired);
  EXPECT_TRUE(io.open_sockets.empty());
}

TEST_F(RelayTest, ShutdownAndClosedConnectionsEndSessions) {
  ASSERT_TRUE(allocate().ok());
  client = *SocketAddress::parse("198.51.100.10:40700");
  nonce.clear();
  ASSERT_TRUE(allocate().ok());
  server->on_client_closed(tuple(), now);
  ASSERT_EQ(events.ended.size(), 1u);
  EXPECT_EQ(events.ended[0].second, EndReason::ClientClosed);
  server->shutdown(now);
  ASSERT_EQ(events.ended.size(), 2u);
  EXPECT_EQ(events.ended[1].second, EndReason::Shutdown);
  EXPECT_TRUE(io.open_sockets.empty());
}

TEST_F(RelayTest, SessionIdsAreUniqueAndCarryTheWorker) {
  ASSERT_TRUE(allocate().ok());
  const uint64_t first = allocation()->id;
  client = *SocketAddress::parse("198.51.100.10:40800");
  nonce.clear();
  ASSERT_TRUE(allocate().ok());
  EXPECT_NE(allocation()->id, first);
  EXPECT_EQ(first >> 56, 1u);
}

TEST_F(RelayTest, AllocationStateStaysSmall) {
  // The per-allocation budget is 4 KB of user-space memory (BENCHMARKS.md); the struct itself
  // is well under it, leaving room for a few permissions and channels.
  EXPECT_LT(sizeof(Allocation), 1024u);
}

}  // namespace
}  // namespace turnpike::relay::test
