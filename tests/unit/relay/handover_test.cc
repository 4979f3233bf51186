// Hand-over of allocations to another process (relay/handover.cc): what one relay::Server
// exports, through the wire format (core/handover_state.h), another restores around the same
// relay sockets, and the client's allocation goes on: same relayed address, permissions,
// channels, counters and session id, no second start and no end in the ledger.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/handover_state.h"
#include "relay_fixture.h"

namespace turnpike::relay::test {
namespace {

class Handover : public RelayTest {
 protected:
  // Exports every allocation that can go, as the old process does, and sends it through the
  // wire format; the sockets are numbered in the order met.
  core::HandoverState hand_over() {
    core::HandoverState s;
    s.workers.resize(1);
    s.workers[0].next_session = server->next_session();
    s.workers[0].counters = server->export_stats();
    std::vector<Allocation*> all;
    server->for_each_allocation([&](const Allocation& a) {
      if (Server::can_hand_over(a)) all.push_back(server->find(a.five_tuple));
    });
    for (Allocation* a : all) {
      s.allocations.push_back(server->export_allocation(*a, 0, [&](RelaySocket* sock) {
        sent.push_back(sock);
        return uint32_t(sent.size() - 1);
      }));
    }
    s.fd_count = uint32_t(sent.size());
    const core::HandoverDecoded d = core::decode_handover(core::encode_handover(s));
    EXPECT_TRUE(d.state) << d.why;
    return d.state ? *d.state : core::HandoverState{};
  }
  // The new process: a fresh server, the sockets passed under the same numbers.
  void take_over(const core::HandoverState& s) {
    start(0, 0);
    events.started.clear();  // what the old process recorded
    for (uint32_t i = 0; i < sent.size(); ++i) io.adoptable[i] = sent[i];
    server->restore_counters(s.workers[0].next_session, s.workers[0].counters);
    for (const auto& h : s.allocations) EXPECT_EQ(server->restore(h, ref(), now), "");
  }
  std::vector<RelaySocket*> sent;
};

TEST_F(Handover, AnAllocationGoesOnInTheNextProcess) {
  ASSERT_TRUE(allocate().ok());
  ASSERT_TRUE(channel_bind(0x4001, "203.0.113.9:7000").ok());
  channel_data(0x4001, "before");
  ASSERT_EQ(io.to_peer.size(), 1u);
  const uint64_t id = allocation()->id;
  const SocketAddress relayed = allocation()->relays[0].announced;
  RelaySocket* socket = allocation()->relays[0].socket;

  const core::HandoverState s = hand_over();
  ASSERT_EQ(s.allocations.size(), 1u);
  // The old process lets go: no end is recorded, its copy of the socket is closed.
  server->release_handed_over(now);
  EXPECT_TRUE(events.ended.empty());
  EXPECT_TRUE(io.open_sockets.empty());
  EXPECT_EQ(server->allocation_count(), 0u);

  take_over(s);
  EXPECT_TRUE(events.started.empty()) << "a restored session must not start a second time";
  Allocation* a = allocation();
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->id, id);
  EXPECT_EQ(a->relays[0].announced, relayed);
  EXPECT_EQ(a->relays[0].socket, socket);
  EXPECT_EQ(a->from_client.packets, 1u);
  // RFC 8656 §12: the channel is still bound, both ways.
  channel_data(0x4001, "after");
  ASSERT_EQ(io.to_peer.size(), 2u);
  EXPECT_EQ(io.to_peer[1].socket, socket);
  EXPECT_EQ(std::string(io.to_peer[1].data.begin(), io.to_peer[1].data.end()), "after");
  const size_t before = io.to_client.size();
  peer_sends("203.0.113.9:7000", "back");
  ASSERT_EQ(io.to_client.size(), before + 1);
  EXPECT_EQ(io.to_client.back().bytes[0], 0x40);  // ChannelData, not a Data indication
  // The credential's key came along: a Refresh is authenticated as before (same nonce key).
  EXPECT_TRUE(refresh(600).ok());
  EXPECT_EQ(allocation()->from_client.packets, 2u);
  // A new allocation gets a new session id, never one handed over.
  client = *SocketAddress::parse("198.51.100.11:40001");
  ASSERT_TRUE(allocate().ok());
  EXPECT_GT(allocation()->id, id);
}

TEST_F(Handover, PermissionsAndExpiriesCarryOver) {
  ASSERT_TRUE(allocate().ok());
  ASSERT_TRUE(create_permission({"203.0.113.9", "203.0.113.10"}).ok());
  const int64_t expires = allocation()->expires_ms;
  const core::HandoverState s = hand_over();
  server->release_handed_over(now);
  take_over(s);
  ASSERT_NE(allocation(), nullptr);
  EXPECT_EQ(allocation()->permissions.size(), 2u);
  EXPECT_EQ(allocation()->expires_ms, expires);
  send_indication("203.0.113.10:1", "x");
  EXPECT_EQ(io.to_peer.size(), 1u);
  // RFC 8656 §9: the permission still expires when it would have.
  advance(299);
  send_indication("203.0.113.10:1", "x");
  EXPECT_EQ(io.to_peer.size(), 2u);
  advance(2);
  server->tick(now);
  send_indication("203.0.113.10:1", "x");
  EXPECT_EQ(io.to_peer.size(), 2u);
  // The restored allocation is on the tick's timer wheel: the tick removed them.
  EXPECT_TRUE(allocation()->permissions.empty());
  advance(600);
  server->tick(now);
  EXPECT_EQ(allocation(), nullptr);  // and it expires when it would have
}

TEST_F(Handover, StreamClientsStayAndEndWithShutdown) {
  transport = Transport::Tcp;
  ASSERT_TRUE(allocate().ok());
  EXPECT_FALSE(Server::can_hand_over(*allocation()));
  EXPECT_TRUE(hand_over().allocations.empty());
  server->release_handed_over(now);
  ASSERT_EQ(events.ended.size(), 1u);
  EXPECT_EQ(events.ended[0].second, EndReason::Shutdown);
}

TEST_F(Handover, AMissingSocketIsRefusedAndNothingLeaks) {
  ASSERT_TRUE(allocate().ok());
  const core::HandoverState s = hand_over();
  server->release_handed_over(now);
  start(0, 0);
  const std::string err = server->restore(s.allocations[0], ref(), now);
  EXPECT_NE(err.find("relay socket 0 missing"), std::string::npos) << err;
  EXPECT_EQ(server->allocation_count(), 0u);
}

TEST_F(Handover, TheSameClientTwiceIsRefused) {
  ASSERT_TRUE(allocate().ok());
  core::HandoverState s = hand_over();
  server->release_handed_over(now);
  take_over(s);
  EXPECT_NE(server->restore(s.allocations[0], ref(), now).find("twice"), std::string::npos);
}

}  // namespace
}  // namespace turnpike::relay::test
