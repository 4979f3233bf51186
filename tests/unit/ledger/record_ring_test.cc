// RecordRing, RecordBuffer and decode_event: variable-size records wrap with padding and come
// out whole and in order, bounds are in bytes, and a record whose size does not match its
// content is refused.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <thread>
#include <variant>
#include <vector>

#include "ledger/ledger_event.h"
#include "ledger/record_buffer.h"
#include "ledger/record_ring.h"

namespace turnpike::ledger {
namespace {

struct Blob {
  RecordHeader header;
  uint32_t seq = 0;
  std::byte fill[120]{};
};

size_t blob_size(uint32_t seq) { return offsetof(Blob, fill) + seq % 100; }

TEST(RecordRing, RecordsWrapAroundWholeAndInOrder) {
  RecordRing ring(1024);
  uint32_t next_in = 0, next_out = 0;
  for (int round = 0; round < 200; ++round) {
    // Fill what fits, then take a few out: the tail passes the end of the buffer many times.
    while (true) {
      Blob b;
      b.seq = next_in;
      std::memset(b.fill, int(next_in & 0xFF), sizeof b.fill);
      if (!ring.push(&b, blob_size(next_in), 7)) break;
      ++next_in;
    }
    ring.drain(
        [&](const RecordHeader& h, const std::byte* p) {
          ASSERT_EQ(h.kind, 7);
          Blob b;
          std::memcpy(&b, p, h.size);
          ASSERT_EQ(b.seq, next_out);
          ASSERT_EQ(h.size, blob_size(next_out));
          for (size_t i = 0; i < h.size - offsetof(Blob, fill); ++i)
            ASSERT_EQ(b.fill[i], std::byte(next_out & 0xFF));
          ++next_out;
        },
        3);
  }
  ring.drain([&](const RecordHeader&, const std::byte*) { ++next_out; });
  EXPECT_EQ(next_out, next_in);
  EXPECT_TRUE(ring.empty());
  EXPECT_GT(next_in, 500u);
}

TEST(RecordRing, OneProducerOneConsumerAcrossThreads) {
  RecordRing ring(4096);
  constexpr uint32_t kRecords = 20'000;
  std::thread producer([&] {
    for (uint32_t i = 0; i < kRecords;) {
      Blob b;
      b.seq = i;
      if (ring.push(&b, blob_size(i), 1)) {
        ++i;
      } else {
        std::this_thread::yield();
      }
    }
  });
  uint32_t expected = 0;
  while (expected < kRecords) {
    if (ring.empty()) std::this_thread::yield();
    ring.drain([&](const RecordHeader& h, const std::byte* p) {
      Blob b;
      std::memcpy(&b, p, h.size);
      ASSERT_EQ(b.seq, expected);
      ++expected;
    });
  }
  producer.join();
  EXPECT_EQ(expected, kRecords);
}

TEST(RecordBuffer, BoundedInBytesAndInRecords) {
  RecordBuffer bytes_only(1000, 0);
  Blob b;
  const RecordHeader h{1, uint16_t(offsetof(Blob, fill) + 4)};  // 12 bytes, 16 with rounding
  b.header = h;
  size_t kept = 0;
  while (bytes_only.append(h, reinterpret_cast<const std::byte*>(&b))) ++kept;
  EXPECT_EQ(kept, 1000u / 16);
  EXPECT_LE(bytes_only.bytes(), 1000u);

  RecordBuffer by_count(1 << 20, 5);
  kept = 0;
  while (by_count.append(h, reinterpret_cast<const std::byte*>(&b))) ++kept;
  EXPECT_EQ(kept, 5u);
  size_t seen = 0;
  by_count.for_each([&](const RecordHeader& x, const std::byte*) { seen += x.size == h.size; });
  EXPECT_EQ(seen, 5u);
  by_count.clear();
  EXPECT_TRUE(by_count.empty());
  EXPECT_TRUE(by_count.append(h, reinterpret_cast<const std::byte*>(&b)));
}

TEST(RecordBuffer, ManyChunks) {
  RecordBuffer buffer(size_t(8) << 20, 0);
  SessionUpdate u;
  for (uint64_t i = 0; i < 100'000; ++i) {
    u.head.sid = i;
    u.head.record = {uint8_t(EventKind::SessionUpdate), uint16_t(u.size())};
    ASSERT_TRUE(buffer.append(u.head.record, reinterpret_cast<const std::byte*>(&u)));
  }
  uint64_t next = 0;
  buffer.for_each([&](const RecordHeader& h, const std::byte* p) {
    LedgerEvent e;
    ASSERT_TRUE(decode_event(h, p, e));
    ASSERT_EQ(std::get<SessionUpdate>(e).head.sid, next++);
  });
  EXPECT_EQ(next, 100'000u);
}

TEST(LedgerEvent, EachKindTakesWhatItUses) {
  SessionStart s;
  const size_t empty = s.size();
  s.session.username.set("1800000000:alice@example.org");
  EXPECT_EQ(s.size(), empty + 28);
  SessionPeers p;
  const size_t none = p.size();
  p.count = 1;
  EXPECT_EQ(p.size(), none + sizeof(PeerTraffic));
  EXPECT_EQ(SessionUpdate().size(), sizeof(SessionUpdate));
  EXPECT_LE(sizeof(SessionUpdate), 64u);
}

TEST(LedgerEvent, ARecordWhoseSizeDoesNotMatchIsRefused) {
  SessionStart s;
  s.session.username.set("1:a");
  LedgerEvent e;
  RecordHeader h{uint8_t(EventKind::SessionStart), uint16_t(s.size())};
  EXPECT_TRUE(decode_event(h, reinterpret_cast<const std::byte*>(&s), e));
  EXPECT_EQ(std::get<SessionStart>(e).session.username.view(), "1:a");
  h.size = uint16_t(s.size() - 1);  // a username longer than its record
  EXPECT_FALSE(decode_event(h, reinterpret_cast<const std::byte*>(&s), e));
  h = {uint8_t(99), uint16_t(s.size())};  // no such kind
  EXPECT_FALSE(decode_event(h, reinterpret_cast<const std::byte*>(&s), e));
  SessionPeers p;
  p.count = 200;  // more peers than a record holds
  h = {uint8_t(EventKind::SessionPeers), uint16_t(sizeof p)};
  EXPECT_FALSE(decode_event(h, reinterpret_cast<const std::byte*>(&p), e));
}

}  // namespace
}  // namespace turnpike::ledger
