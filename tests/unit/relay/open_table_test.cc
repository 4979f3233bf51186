// relay::OpenTable, PermissionTable and ChannelTable: lookup, insert, delete with backshift (no
// tombstones), growth, and behaviour under keys that all hash alike.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <set>

#include "core/random.h"
#include "relay/channel_table.h"
#include "relay/open_table.h"
#include "relay/permission_table.h"

namespace turnpike::relay {
namespace {

IpAddress v4(uint32_t n) { return IpAddress::v4(n); }

struct Item {
  uint64_t key = 0;
  int value = 0;
};
struct ItemKey {
  using Key = uint64_t;
  static const uint64_t& key(const Item& i) { return i.key; }
};
using Table = OpenTable<Item, ItemKey>;

TEST(OpenTable, EmptyHoldsNoMemoryAndFindsNothing) {
  Table t;
  EXPECT_EQ(t.capacity(), 0u);
  EXPECT_EQ(t.bytes(), 0u);
  EXPECT_EQ(t.find(7), nullptr);
  EXPECT_FALSE(t.erase(7));
  EXPECT_EQ(t.erase_if([](const Item&) { return true; }), 0u);
}

TEST(OpenTable, GrowsByDoublingAndStaysAtMostThreeQuartersFull) {
  Table t;
  t.insert({1, 1});
  EXPECT_EQ(t.capacity(), 2u);  // one entry: two slots (a Jitsi client has one peer)
  for (uint64_t k = 2; k <= 100; ++k) {
    ASSERT_NE(t.insert({k, int(k)}), nullptr);
    EXPECT_LE(t.size() * 4, t.capacity() * 3);
  }
  EXPECT_EQ(t.capacity(), 256u);  // 100 entries: 128 slots would be 78% full
  for (uint64_t k = 1; k <= 100; ++k) {
    ASSERT_NE(t.find(k), nullptr) << k;
    EXPECT_EQ(t.find(k)->value, int(k));
  }
  EXPECT_EQ(t.find(101), nullptr);
}

// A random mix of inserts and erases against std::map, with a key small enough that every
// table is crowded and backshift runs across the array's end.
TEST(OpenTable, MatchesAReferenceMapUnderRandomInsertsAndErases) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    core::SeededRandom r(seed);
    HashKey key = HashKey::from(r);
    Table t;
    t.set_hash_key(&key);
    std::map<uint64_t, int> ref;
    for (int step = 0; step < 4000; ++step) {
      const uint64_t k = r.next_u64() % 64;
      const uint64_t op = r.next_u64() % 3;
      if (op < 2 && !ref.count(k)) {
        ASSERT_NE(t.insert({k, step}), nullptr);
        ref[k] = step;
      } else {
        EXPECT_EQ(t.erase(k), ref.erase(k) == 1);
      }
      ASSERT_EQ(t.size(), ref.size());
      if (step % 97 == 0) {
        for (uint64_t q = 0; q < 64; ++q) {
          const Item* i = t.find(q);
          ASSERT_EQ(i != nullptr, ref.count(q) == 1) << "seed " << seed << " key " << q;
          if (i) {
            EXPECT_EQ(i->value, ref[q]);
          }
        }
      }
    }
  }
}

TEST(OpenTable, EraseIfRemovesExactlyTheMatchingEntries) {
  core::SeededRandom r(7);
  HashKey key = HashKey::from(r);
  Table t;
  t.set_hash_key(&key);
  for (uint64_t k = 0; k < 90; ++k) t.insert({k, int(k)});
  EXPECT_EQ(t.erase_if([](const Item& i) { return i.key % 3 == 0; }), 30u);
  EXPECT_EQ(t.size(), 60u);
  for (uint64_t k = 0; k < 90; ++k) EXPECT_EQ(t.find(k) != nullptr, k % 3 != 0) << k;
  std::set<uint64_t> seen;
  t.for_each([&](const Item& i) { EXPECT_TRUE(seen.insert(i.key).second); });
  EXPECT_EQ(seen.size(), 60u);
}

TEST(PermissionTable, ByPeerAddressAcrossFamilies) {
  PermissionTable t;
  Permission p;
  p.peer = v4(0xCB007101);
  p.expires_ms = 5;
  t.insert(p);
  p.peer = *IpAddress::parse("2001:db8::1");
  p.expires_ms = 6;
  t.insert(p);
  ASSERT_NE(t.find(v4(0xCB007101)), nullptr);
  EXPECT_EQ(t.find(v4(0xCB007101))->expires_ms, 5);
  EXPECT_EQ(t.find(*IpAddress::parse("2001:db8::1"))->expires_ms, 6);
  EXPECT_EQ(t.find(v4(0xCB007102)), nullptr);
  // ::ffff:203.0.113.1 is another address than 203.0.113.1 (the peer policy rejects it anyway).
  EXPECT_EQ(t.find(*IpAddress::parse("::ffff:203.0.113.1")), nullptr);
}

TEST(ChannelTable, FoundByNumberAndByPeerAndForgottenBothWays) {
  ChannelTable t;
  const SocketAddress a = *SocketAddress::parse("203.0.113.9:5000");
  const SocketAddress b = *SocketAddress::parse("203.0.113.9:5001");
  ASSERT_NE(t.insert(Channel{0x4001, a, 10}), nullptr);
  ASSERT_NE(t.insert(Channel{0x4002, b, 20}), nullptr);
  EXPECT_EQ(t.find(0x4001)->peer, a);
  EXPECT_EQ(t.find(b)->number, 0x4002);
  EXPECT_EQ(t.find(*SocketAddress::parse("203.0.113.9:5002")), nullptr);
  EXPECT_TRUE(t.erase(0x4001));
  EXPECT_EQ(t.find(a), nullptr);
  EXPECT_EQ(t.find(0x4001), nullptr);
  EXPECT_EQ(t.erase_if([](const Channel& c) { return c.expires_ms == 20; }), 1u);
  EXPECT_EQ(t.find(b), nullptr);
  EXPECT_TRUE(t.empty());
}

TEST(ChannelTable, AFullAllocationsWorthOfChannels) {
  core::SeededRandom r(3);
  HashKey key = HashKey::from(r);
  ChannelTable t;
  t.set_hash_key(&key);
  for (uint16_t i = 0; i < 128; ++i) {
    const SocketAddress peer(v4(0xCB007100 + i), uint16_t(40000 + i));
    ASSERT_NE(t.insert(Channel{uint16_t(0x4000 + i), peer, i}), nullptr);
  }
  EXPECT_EQ(t.size(), 128u);
  for (uint16_t i = 0; i < 128; ++i) {
    const SocketAddress peer(v4(0xCB007100 + i), uint16_t(40000 + i));
    ASSERT_NE(t.find(peer), nullptr);
    EXPECT_EQ(t.find(peer)->number, 0x4000 + i);
    EXPECT_EQ(t.find(uint16_t(0x4000 + i))->peer, peer);
  }
  // Two tables of 256 slots for 128 channels: what one full allocation holds.
  EXPECT_LE(t.bytes(), 256 * (sizeof(Channel) + 8) + 256 * 40);
}

// The key decides the layout: two workers' tables with different keys put the same peers in
// different slots, so a client cannot aim collisions it learnt elsewhere.
TEST(KeyedHash, DependsOnTheKey) {
  core::SeededRandom r1(1), r2(2);
  const HashKey k1 = HashKey::from(r1), k2 = HashKey::from(r2);
  int same = 0;
  for (uint32_t i = 0; i < 256; ++i) {
    if ((keyed_hash(v4(0xCB007100 + i), k1) & 255) == (keyed_hash(v4(0xCB007100 + i), k2) & 255))
      ++same;
  }
  EXPECT_LT(same, 16);  // ~1 expected by chance
  EXPECT_NE(keyed_hash(*SocketAddress::parse("203.0.113.1:1"), k1),
            keyed_hash(*SocketAddress::parse("203.0.113.1:2"), k1));
}

}  // namespace
}  // namespace turnpike::relay
