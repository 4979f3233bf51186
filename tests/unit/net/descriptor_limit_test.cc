// raise_descriptor_limit(): the soft RLIMIT_NOFILE goes up to the hard limit, and says so.
#include <sys/resource.h>

#include <cstdint>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "net/descriptor_limit.h"

namespace turnpike::net {
namespace {

TEST(DescriptorLimit, RaisesTheSoftLimitToTheHardOne) {
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  // An infinite hard limit means the kernel's ceiling, fs.nr_open.
  uint64_t hard = uint64_t(saved.rlim_max);
  if (saved.rlim_max == RLIM_INFINITY) {
    std::ifstream f("/proc/sys/fs/nr_open");
    ASSERT_TRUE(f >> hard);
  }
  rlimit low = saved;
  low.rlim_cur = 32;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  const DescriptorLimit d = raise_descriptor_limit();
  rlimit now{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &now), 0);
  EXPECT_TRUE(d.error.empty()) << d.error;
  EXPECT_EQ(d.before, 32u);
  EXPECT_EQ(d.soft, hard);
  EXPECT_EQ(uint64_t(now.rlim_cur), hard);
  EXPECT_EQ(d.describe(), "descriptor limit " + std::to_string(hard) +
                              " (raised from 32; hard limit " + std::to_string(hard) +
                              ")");
  // Already at the hard limit: nothing to do, and said so.
  const DescriptorLimit again = raise_descriptor_limit();
  EXPECT_EQ(again.before, again.soft);
  EXPECT_EQ(again.describe(), "descriptor limit " + std::to_string(hard) +
                                  " (hard limit " + std::to_string(hard) + ")");
  setrlimit(RLIMIT_NOFILE, &saved);
}

TEST(DescriptorLimit, HalfForStreamConnections) {
  EXPECT_EQ(default_max_connections(20000), 10000u);
  EXPECT_EQ(default_max_connections(1024), 512u);
  EXPECT_EQ(default_max_connections(10), 16u);  // never nothing at all
}

}  // namespace
}  // namespace turnpike::net
