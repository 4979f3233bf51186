// relay::TimerWheel (what expires when, in what order, at what cost) and the Server's ticks on it:
// a tick looks at what is due, not at every allocation.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "relay/timer_wheel.h"
#include "relay_fixture.h"

namespace turnpike::relay {
namespace {

struct Item : TimerHook {
  explicit Item(int n) : TimerHook(1), id(n) {}
  int id;
};

std::vector<int> expire(TimerWheel& w, int64_t now) {
  std::vector<int> out;
  w.expire(now, [&](TimerHook& h) { out.push_back(static_cast<Item&>(h).id); });
  return out;
}

TEST(TimerWheel, FiresAtTheDeadlineNotBefore) {
  TimerWheel w;
  Item a(1);
  w.schedule(a, 10'500, 0);
  EXPECT_TRUE(a.armed());
  EXPECT_TRUE(expire(w, 10'499).empty());
  EXPECT_EQ(expire(w, 10'500), std::vector<int>{1});
  EXPECT_FALSE(a.armed());
  EXPECT_EQ(w.size(), 0u);
  EXPECT_TRUE(expire(w, 99'000).empty());  // once only
}

TEST(TimerWheel, EverythingDueFiresAndNothingElse) {
  TimerWheel w;
  std::vector<std::unique_ptr<Item>> items;
  for (int i = 0; i < 100; ++i) {
    items.push_back(std::make_unique<Item>(i));
    w.schedule(*items.back(), 1'000 + int64_t(i) * 700, 0);  // every 0.7 s
  }
  std::vector<int> fired;
  for (int64_t now = 0; now <= 80'000; now += 1'000) {
    for (int id : expire(w, now)) {
      EXPECT_LE(1'000 + int64_t(id) * 700, now);
      EXPECT_GT(1'000 + int64_t(id) * 700, now - 1'000) << "late: " << id;
      fired.push_back(id);
    }
  }
  // Each in the first expire() at or after its deadline: in deadline order, one tick apart
  // (within one call the order is unspecified).
  ASSERT_EQ(fired.size(), 100u);
}

TEST(TimerWheel, RescheduleMovesCancelAndDestructionRemove) {
  TimerWheel w;
  Item a(1), b(2);
  auto c = std::make_unique<Item>(3);
  w.schedule(a, 5'000, 0);
  w.schedule(b, 5'000, 0);
  w.schedule(*c, 5'000, 0);
  w.schedule(a, 20'000, 0);  // later
  b.cancel();
  c.reset();  // destroyed while armed
  EXPECT_EQ(w.size(), 1u);
  EXPECT_TRUE(expire(w, 10'000).empty());
  EXPECT_EQ(expire(w, 20'000), std::vector<int>{1});
  w.schedule(b, 1'000, 0);  // in a tick already expired: fires at the next expire
  EXPECT_EQ(expire(w, 20'001), std::vector<int>{2});
}

TEST(TimerWheel, TheCallbackMayRescheduleOrDestroyOthersDueToo) {
  TimerWheel w;
  std::unique_ptr<Item> items[2] = {std::make_unique<Item>(0), std::make_unique<Item>(1)};
  w.schedule(*items[0], 1'000, 0);
  w.schedule(*items[1], 1'000, 0);
  std::vector<int> fired;
  w.expire(2'000, [&](TimerHook& h) {
    Item& i = static_cast<Item&>(h);
    fired.push_back(i.id);
    items[1 - i.id].reset();  // the other one, due too, is destroyed
    w.schedule(i, 1'500, 0);     // due already: not again in this expire
  });
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(w.size(), 1u);
  EXPECT_EQ(expire(w, 3'000), std::vector<int>{fired[0]});
}

TEST(TimerWheel, BeyondOneTurnWaitsItsTurns) {
  TimerWheel w;
  Item a(1);
  const int64_t turn = int64_t(TimerWheel::kSlots) << TimerWheel::kTickShift;
  w.schedule(a, 2 * turn + 5'000, 0);
  for (int64_t now = 0; now < 2 * turn + 5'000; now += 100'000) EXPECT_TRUE(expire(w, now).empty());
  EXPECT_EQ(expire(w, 2 * turn + 5'000), std::vector<int>{1});
}

TEST(TimerWheel, ALongPauseLooksAtEachSlotOnce) {
  TimerWheel w;
  std::vector<std::unique_ptr<Item>> items;
  for (int i = 0; i < 1000; ++i) {
    items.push_back(std::make_unique<Item>(i));
    w.schedule(*items.back(), 1'000'000'000 + int64_t(i) * 997, 0);
  }
  expire(w, 0);
  const uint64_t before = w.visits();
  EXPECT_EQ(expire(w, 1'000'000'000 + 1'000'000).size(), 1000u);  // days later, all at once
  EXPECT_LE(w.visits() - before, 1000u);
}

// The cost of a tick: timers looked at, whatever else is armed.
TEST(TimerWheel, ATickLooksOnlyAtWhatIsDue) {
  TimerWheel w;
  std::vector<std::unique_ptr<Item>> items;
  for (int i = 0; i < 100'000; ++i) {
    items.push_back(std::make_unique<Item>(i));
    w.schedule(*items.back(), 3'600'000 + int64_t(i % 500) * 1000, 0);  // an hour from now
  }
  Item soon(-1);
  w.schedule(soon, 30'000, 0);
  const uint64_t before = w.visits();
  for (int64_t now = 0; now < 30'000; now += 1000) EXPECT_TRUE(expire(w, now).empty());
  EXPECT_EQ(expire(w, 30'000), std::vector<int>{-1});
  EXPECT_LE(w.visits() - before, 2u);  // `soon` (maybe twice: its tick is looked at again)
}

// ---- The Server on the wheel.

class RelayTimers : public test::RelayTest {};

TEST_F(RelayTimers, TicksCostWhatExpiresNotWhatIsAllocated) {
  constexpr int kAllocations = 1000;
  for (int i = 0; i < kAllocations; ++i) {
    client = SocketAddress(IpAddress::v4(0xC6336400u + uint32_t(i)), uint16_t(40000 + i % 1000));
    ASSERT_TRUE(allocate().ok()) << i;
    ASSERT_TRUE(refresh(3600).ok());
  }
  // One of them has a permission (5 minutes) and a channel (10 minutes).
  ASSERT_TRUE(create_permission({"203.0.113.9"}).ok());
  ASSERT_TRUE(channel_bind(0x4001, "203.0.113.10:5000").ok());
  const uint64_t start = server->timer_visits();
  for (int s = 0; s < 290; ++s) {
    advance(1);
    server->tick(now);
  }
  EXPECT_EQ(server->timer_visits() - start, 0u) << "a tick looked at allocations with nothing due";
  advance(10);  // both permissions are due
  server->tick(now);
  EXPECT_TRUE(allocation()->permissions.empty());
  EXPECT_EQ(allocation()->channels.size(), 1u);
  EXPECT_LE(server->timer_visits() - start, 2u);
  advance(1);
  server->tick(now);
  EXPECT_LE(server->timer_visits() - start, 2u);
  // Channel expiry (600 s), then its end of cooling (900 s): a look each, and the channel goes.
  for (int s = 0; s < 700; ++s) {
    advance(1);
    server->tick(now);
  }
  EXPECT_TRUE(allocation()->channels.empty());
  EXPECT_LE(server->timer_visits() - start, 6u);
  EXPECT_EQ(server->allocation_count(), size_t(kAllocations));
  // An hour on, every allocation expires: each is looked at once.
  const uint64_t before_end = server->timer_visits();
  advance(3600);
  server->tick(now);
  EXPECT_EQ(server->allocation_count(), 0u);
  EXPECT_EQ(events.ended.size(), size_t(kAllocations));
  EXPECT_LE(server->timer_visits() - before_end, uint64_t(kAllocations) + 2);
}

TEST_F(RelayTimers, ARefreshThatShortensTheLifetimeMovesTheDeadlineEarlier) {
  ASSERT_TRUE(allocate().ok());
  ASSERT_TRUE(refresh(3600).ok());
  ASSERT_TRUE(refresh(600).ok());  // the default lifetime is the floor (RFC 8656 §7.3)
  advance(599);
  server->tick(now);
  EXPECT_EQ(server->allocation_count(), 1u);
  advance(1);
  server->tick(now);
  EXPECT_EQ(server->allocation_count(), 0u);
}

}  // namespace
}  // namespace turnpike::relay
