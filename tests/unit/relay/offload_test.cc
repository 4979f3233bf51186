// The relay's side of the kernel fast path (relay/offload.cc): which channel bindings it hands to
// a ChannelOffload, with which deadline, when it takes them back, and that what the kernel
// relayed ends up in the same counters (allocation, permission, ledger record) as user space's.
#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "relay_fixture.h"

namespace turnpike::relay::test {
namespace {

// Records every call; `counts` is what "the kernel" has relayed per handle since the last read.
struct FakeOffload : ChannelOffload {
  struct Flow {
    uint16_t channel;
    SocketAddress peer;
    int64_t until_ms;
    bool removed = false;
  };
  std::map<uint32_t, Flow> flows;
  std::map<uint32_t, OffloadCounts> counts;
  uint32_t next = 1;
  bool refuse = false;  // install answers 0 (the channel stays in user space)
  std::vector<std::string> calls;

  uint32_t install(const Allocation& a, const Channel& c, int64_t until_ms) override {
    EXPECT_NE(const_cast<Allocation&>(a).find_permission(c.peer.ip()), nullptr)
        << "offered without a permission";
    calls.push_back("install");
    if (refuse) return 0;
    flows[next] = {c.number, c.peer, until_ms};
    return next++;
  }
  void extend(uint32_t h, int64_t until_ms) override {
    calls.push_back("extend");
    ASSERT_TRUE(flows.count(h) && !flows[h].removed);
    flows[h].until_ms = until_ms;
  }
  void collect(uint32_t h, OffloadCounts& out) override {
    calls.push_back("collect");
    take(h, out);
  }
  void remove(uint32_t h, OffloadCounts& out) override {
    calls.push_back("remove");
    ASSERT_TRUE(flows.count(h) && !flows[h].removed) << "removed twice";
    flows[h].removed = true;
    take(h, out);
  }
  void take(uint32_t h, OffloadCounts& out) {
    out.to_peer.add(counts[h].to_peer);
    out.to_client.add(counts[h].to_client);
    counts[h] = {};
  }
  // The kernel relayed `n` packets of `bytes` each, both ways, on flow `h`.
  void relayed(uint32_t h, uint64_t n, uint64_t bytes) {
    counts[h].to_peer.packets += n;
    counts[h].to_peer.bytes += n * bytes;
    counts[h].to_client.packets += n;
    counts[h].to_client.bytes += n * bytes;
  }
};

class OffloadTest : public RelayTest {
 protected:
  FakeOffload kernel;
  void SetUp() override {
    settings.permission_lifetime = 300;
    settings.channel_lifetime = 600;
    RelayTest::SetUp();
    server->set_offload(&kernel);
  }
  void TearDown() override { server.reset(); }  // it gives its flows back to `kernel`
  Channel* channel(uint16_t n) { return allocation()->find_channel(n); }
};

TEST_F(OffloadTest, ChannelBindHandsTheChannelOverWithTheEarlierDeadline) {
  ASSERT_TRUE(allocate().ok());
  ASSERT_TRUE(channel_bind(0x4001, "203.0.113.9:5000").ok());
  ASSERT_EQ(kernel.flows.size(), 1u);
  const auto& f = kernel.flows.begin()->second;
  EXPECT_EQ(f.channel, 0x4001);
  EXPECT_EQ(f.peer.to_string(), "203.0.113.9:5000");
  // RFC 8656 §12.2: the bind installs a 300 s permission; the channel lasts 600 s.
  EXPECT_EQ(f.until_ms, now.mono_ms + 300'000);
  EXPECT_EQ(channel(0x4001)->offload, kernel.flows.begin()->first);
}

TEST_F(OffloadTest, RefreshesMoveTheDeadline) {
  ASSERT_TRUE(allocate().ok());
  ASSERT_TRUE(channel_bind(0x4001, "203.0.113.9:5000").ok());
  const uint32_t h = channel(0x4001)->offload;
  advance(100);
  // CreatePermission for the peer's address refreshes the permission (RFC 8656 §9.2)...
  ASSERT_TRUE(create_permission({"203.0.113.9"}).ok());
  EXPECT_EQ(kernel.flows[h].until_ms, now.mono_ms + 300'000);
  // ...but not for another address.
  const int64_t before = kernel.flows[h].until_ms;
  advance(10);
  ASSERT_TRUE(create_permission({"203.0.113.10"}).ok());
  EXPECT_EQ(kernel.flows[h].until_ms, before);
  // ChannelBind again refreshes both; the channel's 600 s is still the later one.
  advance(100);
  ASSERT_TRUE(channel_bind(0x4001, "203.0.113.9:5000").ok());
  EXPECT_EQ(kernel.flows[h].until_ms, now.mono_ms + 300'000);
  EXPECT_EQ(kernel.flows.size(), 1u);  // extended, never installed twice
}

TEST_F(OffloadTest, ChannelDeadlineWinsWhenEarlier) {
  settings.channel_lifetime = 120;
  start(0, 0);
  server->set_offload(&kernel);
  ASSERT_TRUE(allocate().ok());
  ASSERT_TRUE(channel_bind(0x4001, "203.0.113.9:5000").ok());
  EXPECT_EQ(kernel.flows.begin()->second.until_ms, now.mono_ms + 120'000);
}

TEST_F(OffloadTest, ExpiredPermissionTakesTheFlowBackAndCountsIt) {
  ASSERT_TRUE(allocate().ok());
  ASSERT_TRUE(channel_bind(0x4001, "203.0.113.9:5000").ok());
  const uint32_t h = channel(0x4001)->offload;
  kernel.relayed(h, 10, 100);
  advance(299);
  server->tick(now);
  EXPECT_FALSE(kernel.flows[h].removed);
  advance(1);  // the permission's 300 s are over (the channel's are not)
  server->tick(now);
  EXPECT_TRUE(kernel.flows[h].removed);
  EXPECT_EQ(channel(0x4001)->offload, 0u);
  EXPECT_TRUE(allocation()->permissions.empty());
  // Counted before the permission went: in the allocation's counters.
  EXPECT_EQ(allocation()->from_client.packets, 10u);
  EXPECT_EQ(allocation()->from_client.bytes, 1000u);
  EXPECT_EQ(allocation()->to_client.bytes, 1000u);
}

TEST_F(OffloadTest, ExpiredChannelTakesTheFlowBackThenARebindInstallsAgain) {
  settings.channel_lifetime = 60;
  start(0, 0);
  server->set_offload(&kernel);
  ASSERT_TRUE(allocate().ok());
  ASSERT_TRUE(channel_bind(0x4001, "203.0.113.9:5000").ok());
  const uint32_t first = channel(0x4001)->offload;
  advance(60);
  server->tick(now);
  EXPECT_TRUE(kernel.flows[first].removed);
  ASSERT_NE(channel(0x4001), nullptr);  // cooling down, still reserved (RFC 8656 §12)
  EXPECT_EQ(channel(0x4001)->offload, 0u);
  // Bound again to the same peer: a new flow.
  ASSERT_TRUE(channel_bind(0x4001, "203.0.113.9:5000").ok());
  EXPECT_NE(channel(0x4001)->offload, 0u);
  EXPECT_NE(channel(0x4001)->offload, first);
  EXPECT_FALSE(kernel.flows[channel(0x4001)->offload].removed);
}

TEST_F(OffloadTest, RebindToAnotherPeerIsRefusedAndTouchesNothing) {
  ASSERT_TRUE(allocate().ok());
  ASSERT_TRUE(channel_bind(0x4001, "203.0.113.9:5000").ok());
  kernel.calls.clear();
  EXPECT_EQ(channel_bind(0x4001, "203.0.113.10:5000").error(), 400);
  EXPECT_EQ(channel_bind(0x4002, "203.0.113.9:5000").error(), 400);
  EXPECT_TRUE(kernel.calls.empty());
}

TEST_F(OffloadTest, ForbiddenPeerIsNeverOffered) {
  ASSERT_TRUE(allocate().ok());
  EXPECT_EQ(channel_bind(0x4001, "127.0.0.1:5000").error(), 403);
  EXPECT_TRUE(kernel.calls.empty());
}

TEST_F(OffloadTest, EndOfTheAllocationCountsTheKernelsPacketsInTheFinalRecord) {
  ASSERT_TRUE(allocate().ok());
  ASSERT_TRUE(channel_bind(0x4001, "203.0.113.9:5000").ok());
  ASSERT_TRUE(channel_bind(0x4002, "203.0.113.10:6000").ok());
  kernel.relayed(channel(0x4001)->offload, 3, 200);
  kernel.relayed(channel(0x4002)->offload, 4, 50);
  channel_data(0x4001, "from user space");  // 15 bytes, relayed here
  ASSERT_TRUE(refresh(0).ok());
  ASSERT_EQ(events.ended.size(), 1u);
  EXPECT_EQ(events.last_bytes_from_client, 3u * 200 + 4u * 50 + 15);
  for (const auto& [_, f] : kernel.flows) EXPECT_TRUE(f.removed);
}

TEST_F(OffloadTest, CollectFoldsIntoAllocationAndPermission) {
  ASSERT_TRUE(allocate().ok());
  ASSERT_TRUE(channel_bind(0x4001, "203.0.113.9:5000").ok());
  kernel.relayed(channel(0x4001)->offload, 5, 100);
  server->collect_offloaded();
  const Permission* p = allocation()->find_permission(*IpAddress::parse("203.0.113.9"));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->to_peer.bytes, 500u);
  EXPECT_EQ(p->from_peer.packets, 5u);
  EXPECT_EQ(allocation()->to_client.bytes, 500u);
  server->collect_offloaded();  // nothing new: nothing added twice
  EXPECT_EQ(allocation()->to_client.bytes, 500u);
}

TEST_F(OffloadTest, RefusedInstallLeavesTheChannelToUserSpaceAndIsOfferedAgain) {
  kernel.refuse = true;
  ASSERT_TRUE(allocate().ok());
  ASSERT_TRUE(channel_bind(0x4001, "203.0.113.9:5000").ok());
  EXPECT_EQ(channel(0x4001)->offload, 0u);
  channel_data(0x4001, "still relayed");
  ASSERT_EQ(io.to_peer.size(), 1u);
  // A refresh offers it again (the table may have room now).
  kernel.refuse = false;
  ASSERT_TRUE(create_permission({"203.0.113.9"}).ok());
  EXPECT_NE(channel(0x4001)->offload, 0u);
}

TEST_F(OffloadTest, ShutdownTakesEveryFlowBack) {
  ASSERT_TRUE(allocate().ok());
  ASSERT_TRUE(channel_bind(0x4001, "203.0.113.9:5000").ok());
  server->shutdown(now);
  EXPECT_TRUE(kernel.flows.begin()->second.removed);
}

// Collecting what the kernel relayed looks only at allocations with a flow installed (the
// ledger's progress asks for every allocation it reports on).
TEST_F(OffloadTest, CollectWalksOnlyAllocationsWithFlows) {
  std::vector<SocketAddress> clients;
  for (int i = 0; i < 50; ++i) {
    client = SocketAddress(IpAddress::v4(0xC6336400u + uint32_t(i)), 40000);
    clients.push_back(client);
    ASSERT_TRUE(allocate().ok());
    ASSERT_TRUE(refresh(3600).ok());
    if (i % 10 == 0) {
      ASSERT_TRUE(channel_bind(0x4001, "203.0.113.9:5000").ok());
      ASSERT_TRUE(channel_bind(0x4002, "203.0.113.9:5001").ok());
    }
  }
  EXPECT_EQ(server->offloaded_allocation_count(), 5u);
  kernel.calls.clear();
  server->collect_offloaded();
  EXPECT_EQ(std::count(kernel.calls.begin(), kernel.calls.end(), "collect"), 10);
  // One allocation with flows ends, another loses its flows at the permission's expiry.
  client = clients[0];
  ASSERT_TRUE(refresh(0).ok());
  EXPECT_EQ(server->offloaded_allocation_count(), 4u);
  advance(300);
  server->tick(now);
  EXPECT_EQ(server->offloaded_allocation_count(), 0u);
  kernel.calls.clear();
  server->collect_offloaded();
  EXPECT_TRUE(kernel.calls.empty());
}

}  // namespace
}  // namespace turnpike::relay::test
