// Round-trip latency histogram: log-linear buckets (32 per power of two, so any reported
// percentile is within ~3 % of the true value), fixed size, no allocation when recording.
#pragma once

#include <array>
#include <bit>
#include <cstdint>

namespace bench {

class Histogram {
 public:
  static constexpr int kSub = 5;  // 2^5 = 32 buckets per power of two
  static constexpr int kBuckets = (64 - kSub) << kSub;

  void record(uint64_t ns) {
    ++counts_[index(ns)];
    ++total_;
  }
  void merge(const Histogram& o) {
    for (int i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
    total_ += o.total_;
  }
  uint64_t count() const { return total_; }

  // The value at quantile q (0..1), as the middle of its bucket; 0 when empty.
  uint64_t quantile(double q) const {
    if (total_ == 0) return 0;
    const uint64_t rank = uint64_t(q * double(total_ - 1)) + 1;
    uint64_t seen = 0;
    for (int i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) return (lower(i) + lower(i + 1)) / 2;
    }
    return lower(kBuckets - 1);
  }

 private:
  static int index(uint64_t v) {
    if (v < (1u << kSub)) return int(v);
    const int e = 63 - std::countl_zero(v);  // >= kSub
    return ((e - kSub + 1) << kSub) + int((v >> (e - kSub)) & ((1u << kSub) - 1));
  }
  static uint64_t lower(int i) {
    if (i < (1 << kSub)) return uint64_t(i);
    const int e = (i >> kSub) + kSub - 1;
    return (uint64_t(1) << e) + (uint64_t(i & ((1 << kSub) - 1)) << (e - kSub));
  }

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t total_ = 0;
};

}  // namespace bench
