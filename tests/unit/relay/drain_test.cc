// Draining (relay::Server::set_draining, README "Drain and graceful stop"): a new Allocate is
// refused, 403 with a reason or 300 Try Alternate with ALTERNATE-SERVER (RFC 8489 §10, §14.15)
// of the client's family, each recorded as a `draining` refusal; an allocation made before goes
// on refreshing and its retransmitted Allocate still gets its success; end_allocations ends
// exactly the allocations picked, with the reason given.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "core/attributes/xor_address.h"
#include "relay_fixture.h"

namespace turnpike::relay::test {
namespace {

TEST_F(RelayTest, DrainingRefusesNewAllocationsWith403AndAReason) {
  server->set_draining(true);
  const Response r = allocate();
  EXPECT_EQ(r.error(), 403);
  EXPECT_NE(r.reason().find("draining"), std::string::npos);
  EXPECT_FALSE(r.has(attr::AlternateServer));
  EXPECT_EQ(server->allocation_count(), 0u);
  ASSERT_FALSE(events.refused_list.empty());
  EXPECT_EQ(events.refused_list.back().reason, RefusalReason::Draining);
  EXPECT_EQ(events.refused_list.back().code, 403);
  server->set_draining(false);
  EXPECT_TRUE(allocate().ok());
}

TEST_F(RelayTest, DrainingNamesTheAlternateServerOfTheClientsFamily) {
  settings.alternate_servers = {*SocketAddress::parse("[2001:db8::9]:3478"),
                                *SocketAddress::parse("203.0.113.9:3479")};
  start(0, 0);
  server->set_draining(true);
  const Response r = allocate();
  EXPECT_EQ(r.error(), 300);
  auto a = r.msg->find(attr::AlternateServer);
  ASSERT_TRUE(a);
  EXPECT_EQ(core::decode_plain_address(r.msg->value(*a)), SocketAddress::parse("203.0.113.9:3479"));
  EXPECT_EQ(events.refused_list.back().code, 300);
}

TEST_F(RelayTest, DrainingKeepsExistingAllocations) {
  uint8_t txid[12] = {9, 9, 9};
  const Response first = allocate(nullptr, txid);
  ASSERT_TRUE(first.ok());
  server->set_draining(true);
  EXPECT_EQ(allocate(nullptr, txid).bytes, first.bytes);  // a retransmission, not a new one
  EXPECT_TRUE(refresh(600).ok());
  EXPECT_TRUE(create_permission({"203.0.113.5"}).ok());
  EXPECT_EQ(server->allocation_count(), 1u);
}

TEST_F(RelayTest, EndAllocationsEndsOnlyThosePicked) {
  ASSERT_TRUE(allocate().ok());
  client = *SocketAddress::parse("198.51.100.11:40001");
  nonce.clear();
  use_rest_user("bob");
  ASSERT_TRUE(allocate().ok());
  EXPECT_EQ(server->end_allocations(
                [](const Allocation& a) { return a.username.find("bob") != std::string::npos; },
                EndReason::Disconnected, now),
            1u);
  EXPECT_EQ(server->allocation_count(), 1u);
  ASSERT_EQ(events.ended.size(), 1u);
  EXPECT_EQ(events.ended[0].second, EndReason::Disconnected);
  EXPECT_STREQ(end_reason_name(EndReason::Disconnected), "disconnected");
}

}  // namespace
}  // namespace turnpike::relay::test
