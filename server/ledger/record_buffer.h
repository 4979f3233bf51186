// Records waiting for the database, kept in the RecordRing's format (each takes the bytes its
// kind needs) and bounded in bytes: while the ledger cannot be written, the relay's memory grows
// by at most that much, whatever the events are.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <vector>

#include "ledger/record_ring.h"

namespace turnpike::ledger {

class RecordBuffer {
 public:
  static constexpr size_t kChunkBytes = 256 * 1024;

  // At most `max_bytes` of records (the memory used is that, rounded up to a chunk) and at
  // most `max_records` of them (0: no limit by count).
  RecordBuffer(size_t max_bytes, size_t max_records)
      : max_bytes_(max_bytes), max_records_(max_records) {}

  // False (nothing kept) when the record would pass either bound.
  bool append(const RecordHeader& h, const std::byte* record) {
    const size_t n = RecordRing::round_up(h.size);
    if (bytes_ + n > max_bytes_ || (max_records_ && count_ >= max_records_)) return false;
    if (in_use_ == 0 || chunks_[in_use_ - 1].used + n > kChunkBytes) {
      if (in_use_ == chunks_.size()) chunks_.push_back({std::unique_ptr<std::byte[]>(new std::byte[kChunkBytes]), 0});
      chunks_[in_use_++].used = 0;
    }
    Chunk& c = chunks_[in_use_ - 1];
    std::memcpy(c.data.get() + c.used, record, h.size);
    c.used += n;
    bytes_ += n;
    ++count_;
    return true;
  }

  // f(const RecordHeader&, const std::byte* record) for each record, oldest first.
  template <typename F>
  void for_each(F&& f) const {
    for (size_t i = 0; i < in_use_; ++i) {
      const Chunk& c = chunks_[i];
      for (size_t at = 0; at < c.used;) {
        RecordHeader h;
        std::memcpy(&h, c.data.get() + at, sizeof h);
        f(h, c.data.get() + at);
        at += RecordRing::round_up(h.size);
      }
    }
  }

  // Forgets every record; keeps one chunk for the next ones and frees the rest.
  void clear() {
    if (chunks_.size() > 1) chunks_.resize(1);
    in_use_ = 0;
    bytes_ = count_ = 0;
  }

  size_t bytes() const { return bytes_; }
  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }

 private:
  struct Chunk {
    std::unique_ptr<std::byte[]> data;
    size_t used = 0;
  };
  std::vector<Chunk> chunks_;
  size_t in_use_ = 0;  // chunks holding records: [0, in_use_)
  size_t max_bytes_;
  size_t max_records_;
  size_t bytes_ = 0;
  size_t count_ = 0;
};

}  // namespace turnpike::ledger
