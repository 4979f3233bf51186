#include "net/descriptor_limit.h"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

namespace turnpike::net {
namespace {

// The kernel's ceiling for any process (fs.nr_open); RLIM_INFINITY as a NOFILE limit means this.
uint64_t nr_open() {
  std::ifstream f("/proc/sys/fs/nr_open");
  uint64_t n = 0;
  if (f >> n && n > 0) return n;
  return 1048576;  // the kernel's default
}

}  // namespace

std::string DescriptorLimit::describe() const {
  std::string s = "descriptor limit " + std::to_string(soft) + " (";
  if (soft != before) s += "raised from " + std::to_string(before) + "; ";
  s += "hard limit " + std::to_string(hard) + ")";
  if (!error.empty()) s += "; " + error;
  return s;
}

DescriptorLimit raise_descriptor_limit() {
  DescriptorLimit d;
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    d.error = std::string("cannot read it: ") + std::strerror(errno);
    return d;
  }
  const auto value = [](rlim_t v) { return v == RLIM_INFINITY ? nr_open() : uint64_t(v); };
  d.before = d.soft = value(rl.rlim_cur);
  d.hard = value(rl.rlim_max);
  if (d.soft >= d.hard) return d;
  rlimit want = rl;
  want.rlim_cur = rl.rlim_max == RLIM_INFINITY ? rlim_t(nr_open()) : rl.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &want) != 0) {
    d.error = std::string("cannot raise it to the hard limit: ") + std::strerror(errno);
    return d;
  }
  d.soft = uint64_t(want.rlim_cur);
  return d;
}

unsigned default_max_connections(uint64_t soft_limit) {
  return unsigned(std::clamp<uint64_t>(soft_limit / 2, 16, 1u << 30));
}

}  // namespace turnpike::net
