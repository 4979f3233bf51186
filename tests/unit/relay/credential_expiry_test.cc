// expired-credential-grace (credential_expiry.cc): once a REST credential has expired, its
// allocation can refresh what it has, for the grace, and nothing new; then 401.
#include <string>

#include "relay_fixture.h"

namespace turnpike::relay::test {
namespace {

class CredentialExpiry : public RelayTest {
 protected:
  void SetUp() override {
    RelayTest::SetUp();
    settings.expired_credential_grace = 1000;
    use_rest_user("alice", 100);  // expires 100 s from now
    ASSERT_TRUE(allocate().ok());
    ASSERT_TRUE(create_permission({"203.0.113.9"}).ok());
    ASSERT_TRUE(channel_bind(0x4001, "203.0.113.9:7000").ok());
  }
  const Recorder::Refused& last_refusal() { return events.refused_list.back(); }
  // Refusals for the expiry (a stale nonce on the way is refused too, and retried).
  size_t expiry_refusals() const {
    size_t n = 0;
    for (const auto& r : events.refused_list) n += r.reason == RefusalReason::ExpiredCredential;
    return n;
  }
};

TEST_F(CredentialExpiry, WhatExistsIsRefreshedDuringTheGrace) {
  advance(101);
  EXPECT_TRUE(refresh(600).ok());
  EXPECT_TRUE(create_permission({"203.0.113.9"}).ok());
  EXPECT_TRUE(channel_bind(0x4001, "203.0.113.9:7000").ok());
  EXPECT_TRUE(channel_bind(0x4002, "203.0.113.9:7001").ok());  // a permitted peer's other port
  EXPECT_EQ(expiry_refusals(), 0u);
  for (int i = 0; i < 3; ++i) {  // to 1061 s, expired 961 s ago: still within the grace
    advance(290);  // as a client does, before the permission's 300 s run out
    EXPECT_TRUE(refresh(600).ok());
    EXPECT_TRUE(create_permission({"203.0.113.9"}).ok()) << i;
  }
  EXPECT_EQ(expiry_refusals(), 0u);
}

TEST_F(CredentialExpiry, NoNewPeerAfterExpiry) {
  advance(101);
  const size_t permissions = allocation()->permissions.size();
  for (auto r : {create_permission({"203.0.113.10"}), create_permission({"203.0.113.9", "203.0.113.10"}),
                 channel_bind(0x4003, "203.0.113.11:7000")}) {
    EXPECT_EQ(r.error(), 403);
    EXPECT_TRUE(r.msg->message_integrity());  // signed: the client's key is still the right one
    EXPECT_EQ(last_refusal().reason, RefusalReason::ExpiredCredential);
    EXPECT_NE(std::string(last_refusal().detail).find("new peer after expiry"), std::string::npos);
  }
  EXPECT_EQ(allocation()->permissions.size(), permissions);  // nothing of them installed
  EXPECT_FALSE(allocation()->find_channel(0x4003));
}

TEST_F(CredentialExpiry, APermissionLetLapseIsANewPeer) {
  advance(301);  // the permission (300 s) ran out without a refresh
  EXPECT_TRUE(refresh(600).ok());
  EXPECT_EQ(create_permission({"203.0.113.9"}).error(), 403);
}

TEST_F(CredentialExpiry, PastTheGraceEveryRequestIs401) {
  for (int i = 0; i < 3; ++i) {  // refreshed every 290 s, as a client does
    advance(290);
    ASSERT_TRUE(refresh(600).ok());
    ASSERT_TRUE(create_permission({"203.0.113.9"}).ok());
  }
  advance(250);  // 1120 s: expired 1020 s ago
  auto r = refresh(600);
  EXPECT_EQ(r.error(), 401);
  EXPECT_FALSE(r.msg->message_integrity());
  EXPECT_FALSE(r.text(attr::Nonce).empty());
  EXPECT_EQ(last_refusal().reason, RefusalReason::ExpiredCredential);
  EXPECT_NE(std::string(last_refusal().detail).find("beyond expired-credential-grace=1000"),
            std::string::npos);
  EXPECT_EQ(create_permission({"203.0.113.9"}).error(), 401);
  EXPECT_EQ(channel_bind(0x4001, "203.0.113.9:7000").error(), 401);
}

TEST_F(CredentialExpiry, ZeroGraceEndsRefreshesAtExpiry) {
  settings.expired_credential_grace = 0;
  advance(100);  // expiring exactly now still works
  EXPECT_TRUE(refresh(600).ok());
  advance(1);
  EXPECT_EQ(refresh(600).error(), 401);
}

TEST_F(CredentialExpiry, ANewAllocationWithTheExpiredCredentialIsRefused) {
  advance(101);
  client = *SocketAddress::parse("198.51.100.10:40001");
  nonce.clear();
  EXPECT_EQ(allocate().error(), 401);
  EXPECT_EQ(last_refusal().reason, RefusalReason::ExpiredCredential);
}

}  // namespace
}  // namespace turnpike::relay::test
