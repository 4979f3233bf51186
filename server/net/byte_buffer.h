// The byte queue of every stream direction (net/stream.h): data in at the end (space(),
// commit(), append()), out at the front (data(), consume()).
//
// It holds at most limit() bytes: that is the bound on what one direction of one connection can
// make the server keep. The memory behind it is allocated on first use, `initial` bytes, and
// doubled only when more is queued than fits, up to the limit. So a connection that never sends
// costs nothing here, and one that exchanges small messages (every client before it
// authenticates, most media flows) keeps a small buffer; only a direction that really backs up
// grows to its limit. It never shrinks while in use; release() frees it when empty.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <utility>

#include "core/bytes.h"

namespace turnpike::net {

class ByteBuffer {
 public:
  static constexpr size_t kInitial = 2048;

  ByteBuffer() = default;
  explicit ByteBuffer(size_t limit, size_t initial = kInitial)
      : limit_(limit), initial_(std::min(std::max<size_t>(initial, 1), limit)) {}

  ByteBuffer(ByteBuffer&& o) noexcept { *this = std::move(o); }
  ByteBuffer& operator=(ByteBuffer&& o) noexcept {
    if (this != &o) {
      buf_ = std::move(o.buf_);
      limit_ = std::exchange(o.limit_, 0);
      initial_ = std::exchange(o.initial_, 0);
      cap_ = std::exchange(o.cap_, 0);
      start_ = std::exchange(o.start_, 0);
      end_ = std::exchange(o.end_, 0);
    }
    return *this;
  }

  size_t limit() const { return limit_; }
  // A larger bound for a direction whose use turned out to need it (never a smaller one).
  void raise_limit(size_t limit) { limit_ = std::max(limit_, limit); }
  size_t capacity() const { return cap_; }  // allocated now
  size_t size() const { return end_ - start_; }
  bool empty() const { return end_ == start_; }
  bool full() const { return size() == limit_; }
  size_t room() const { return limit_ - size(); }

  // What waits, oldest first.
  core::Bytes data() const { return core::Bytes(buf_.get() + start_, end_ - start_); }
  void consume(size_t n) {
    start_ += n;
    if (start_ == end_) start_ = end_ = 0;
  }

  // Contiguous room at the end, where to receive; empty only when full(). Allocates, moves what
  // waits to the front or grows the allocation as needed.
  core::MutableBytes space() {
    if (full()) return {};
    if (end_ == cap_ || (start_ && cap_ - end_ < cap_ / 2)) make_room(1);
    return core::MutableBytes(buf_.get() + end_, cap_ - end_);
  }
  void commit(size_t n) { end_ += n; }

  // Room for `n` more bytes in one piece; false (nothing changes) when they would pass the limit.
  bool reserve(size_t n) {
    if (n > room()) return false;
    if (cap_ - end_ < n) make_room(n);
    return true;
  }
  // Appends all of `d` or nothing.
  bool append_whole(core::Bytes d) {
    if (!reserve(d.size())) return false;
    if (!d.empty()) std::memcpy(buf_.get() + end_, d.data(), d.size());
    end_ += d.size();
    return true;
  }
  // Appends as much of `d` as fits; returns how much that was.
  size_t append(core::Bytes d) {
    const size_t n = std::min(d.size(), room());
    append_whole(d.subspan(0, n));
    return n;
  }

  // Gives the memory back while nothing waits (the next use allocates `initial` again).
  void release() {
    if (!empty()) return;
    buf_.reset();
    cap_ = start_ = end_ = 0;
  }

 private:
  // Makes `n` bytes (at most room()) free in one piece at the end: by allocating, by moving what
  // waits to the front, or by a larger allocation (doubling, at least enough, at most the limit).
  void make_room(size_t n) {
    const size_t used = size();
    if (!buf_) {
      cap_ = std::min(limit_, std::max(initial_, n));
      buf_.reset(new uint8_t[cap_]);
      start_ = end_ = 0;
      return;
    }
    if (cap_ - used >= n) {
      if (start_) std::memmove(buf_.get(), buf_.get() + start_, used);
      start_ = 0;
      end_ = used;
      return;
    }
    const size_t want = std::min(limit_, std::max(cap_ * 2, used + n));
    std::unique_ptr<uint8_t[]> bigger(new uint8_t[want]);
    if (used) std::memcpy(bigger.get(), buf_.get() + start_, used);
    buf_ = std::move(bigger);
    cap_ = want;
    start_ = 0;
    end_ = used;
  }

  std::unique_ptr<uint8_t[]> buf_;
  size_t limit_ = 0;
  size_t initial_ = 0;
  size_t cap_ = 0;
  size_t start_ = 0;
  size_t end_ = 0;
};

}  // namespace turnpike::net
