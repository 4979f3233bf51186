// A fixed-capacity byte queue for one direction of a stream: data in at the end (space(),
// commit()), out at the front (data(), consume()). Allocated once; never grows.
#pragma once

#include <cstring>
#include <memory>

#include "core/bytes.h"

namespace turnpike::net {

class ByteBuffer {
 public:
  ByteBuffer() = default;
  explicit ByteBuffer(size_t capacity) : buf_(new uint8_t[capacity]), cap_(capacity) {}

  size_t capacity() const { return cap_; }
  size_t size() const { return end_ - start_; }
  bool empty() const { return end_ == start_; }
  bool full() const { return size() == cap_; }

  // What waits to be sent.
  core::Bytes data() const { return core::Bytes(buf_.get() + start_, end_ - start_); }
  void consume(size_t n) {
    start_ += n;
    if (start_ == end_) start_ = end_ = 0;
  }
  // Where to receive; empty when full. Moves what waits to the front when the tail runs short.
  core::MutableBytes space() {
    if (start_ && cap_ - end_ < cap_ / 2) {
      std::memmove(buf_.get(), buf_.get() + start_, end_ - start_);
      end_ -= start_;
      start_ = 0;
    }
    return core::MutableBytes(buf_.get() + end_, cap_ - end_);
  }
  void commit(size_t n) { end_ += n; }
  // Appends as much of `d` as fits; returns how much that was.
  size_t append(core::Bytes d) {
    core::MutableBytes s = space();
    const size_t n = std::min(s.size(), d.size());
    if (n) std::memcpy(s.data(), d.data(), n);
    end_ += n;
    return n;
  }

 private:
  std::unique_ptr<uint8_t[]> buf_;
  size_t cap_ = 0;
  size_t start_ = 0;
  size_t end_ = 0;
};

}  // namespace turnpike::net
