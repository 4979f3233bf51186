// ByteBuffer (net/byte_buffer.h): memory only on first use, small, grown (doubling) only while
// more waits than fits, never past its limit; appends whole or partial; order kept across
// compaction and growth.
#include "net/byte_buffer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "stream_test_util.h"

namespace turnpike::net {
namespace {

using test::bytes;
using test::text;


TEST(ByteBuffer, AllocatesOnFirstUseAndStartsSmall) {
  ByteBuffer b(65536, 1024);
  EXPECT_EQ(b.capacity(), 0u);
  EXPECT_EQ(b.limit(), 65536u);
  EXPECT_TRUE(b.append_whole(bytes("hello")));
  EXPECT_EQ(b.capacity(), 1024u);
  b.consume(5);
  EXPECT_TRUE(b.empty());
  b.release();
  EXPECT_EQ(b.capacity(), 0u);
}

TEST(ByteBuffer, GrowsByDoublingOnlyWhileDataWaitsAndNeverPastTheLimit) {
  ByteBuffer b(5000, 1000);
  const std::string chunk(700, 'x');
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(b.append_whole(bytes(chunk)));  // 4900 bytes
  EXPECT_EQ(b.size(), 4900u);
  EXPECT_EQ(b.capacity(), 5000u);              // 1000, 2000, 4000, then the limit
  EXPECT_FALSE(b.append_whole(bytes(chunk)));  // all or nothing
  EXPECT_EQ(b.size(), 4900u);
  EXPECT_EQ(b.append(bytes(chunk)), 100u);  // as much as fits
  EXPECT_TRUE(b.full());
  EXPECT_TRUE(b.space().empty());
  EXPECT_FALSE(b.reserve(1));
}

TEST(ByteBuffer, ReusesItsMemoryWhenConsumedAsFastAsFilled) {
  ByteBuffer b(1 << 20, 2048);
  const std::string msg(1200, 'm');
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(b.append_whole(bytes(msg)));
    b.consume(msg.size());
  }
  EXPECT_EQ(b.capacity(), 2048u);  // a media flow keeps the small buffer
}

TEST(ByteBuffer, KeepsOrderAcrossCompactionAndGrowth) {
  ByteBuffer b(64, 8);
  std::string expect;
  int next = 0;
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 3; ++i) {
      core::MutableBytes s = b.space();
      if (s.empty()) break;
      s[0] = uint8_t('a' + next % 26);
      b.commit(1);
      expect.push_back(char('a' + next++ % 26));
    }
    const size_t take = round % 4 == 0 ? 2 : 1;
    const size_t n = std::min(take, b.size());
    ASSERT_EQ(text(b.data().subspan(0, n)), expect.substr(0, n));
    b.consume(n);
    expect.erase(0, n);
  }
  EXPECT_EQ(text(b.data()), expect);
  EXPECT_LE(b.capacity(), 64u);
}

TEST(ByteBuffer, MovesLeaveAnEmptyBuffer) {
  ByteBuffer a(100, 10);
  a.append_whole(bytes("abc"));
  ByteBuffer b = std::move(a);
  EXPECT_EQ(text(b.data()), "abc");
  EXPECT_EQ(a.size(), 0u);         // NOLINT: the moved-from state is defined
  EXPECT_EQ(a.capacity(), 0u);     // NOLINT
  EXPECT_TRUE(a.space().empty());  // NOLINT: limit 0, nothing fits
  b.raise_limit(200);
  EXPECT_EQ(b.limit(), 200u);
  b.raise_limit(50);
  EXPECT_EQ(b.limit(), 200u);
}

}  // namespace
}  // namespace turnpike::net
