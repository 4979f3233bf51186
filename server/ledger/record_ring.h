// A bounded single-producer single-consumer ring of variable-size records: one worker thread
// produces, the ledger writer consumes. Lock-free: the two sides share only two atomic byte
// indices. Each record takes the bytes its kind needs (rounded up to 8), so a ring of a given
// size holds many small records (counter updates) or fewer large ones (session starts).
//
// Records are trivially copyable bytes that begin with a RecordHeader. They never wrap
// around the end of the buffer: when the space left before the end is too small, the producer
// fills it with a padding record and starts again at the front.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

namespace turnpike::ledger {

struct RecordHeader {
  uint8_t kind = 0;   // the record's type; kPadding marks bytes to skip
  uint16_t size = 0;  // bytes of this record, header included (before rounding)
};

class RecordRing {
 public:
  static constexpr uint8_t kPadding = 0xFF;
  static constexpr size_t kAlign = 8;
  static constexpr size_t kMaxRecord = 4096;

  // `capacity` bytes, a power of two. The memory is not touched before records need it.
  explicit RecordRing(size_t capacity)
      : capacity_(capacity), bytes_(new std::byte[capacity]) {}
  RecordRing(const RecordRing&) = delete;
  RecordRing& operator=(const RecordRing&) = delete;

  // Producer: copies `size` bytes from `record`, which starts with a RecordHeader (its kind
  // and size are set here). False when there is no room; nothing is written then.
  bool push(const void* record, size_t size, uint8_t kind) {
    void* slot = reserve(size);
    if (!slot) return false;
    std::memcpy(slot, record, size);
    const RecordHeader h{kind, uint16_t(size)};
    std::memcpy(slot, &h, sizeof h);
    publish();
    return true;
  }

  // Consumer: calls f(const RecordHeader&, const std::byte* record) for up to `max` records,
  // oldest first, and frees their bytes; returns how many. The pointer is valid during the call.
  template <typename F>
  size_t drain(F&& f, size_t max = SIZE_MAX) {
    size_t head = head_.load(std::memory_order_relaxed);
    const size_t tail = tail_.load(std::memory_order_acquire);
    size_t n = 0;
    while (head != tail && n < max) {
      const std::byte* p = bytes_.get() + (head & (capacity_ - 1));
      RecordHeader h;
      std::memcpy(&h, p, sizeof h);
      if (h.kind == kPadding) {
        head += capacity_ - (head & (capacity_ - 1));  // to the front
      } else {
        f(h, p);
        head += round_up(h.size);
        ++n;
      }
      head_.store(head, std::memory_order_release);
    }
    return n;
  }

  // Bytes in use (an estimate when read by the other side).
  size_t used() const {
    return tail_.load(std::memory_order_acquire) - head_.load(std::memory_order_acquire);
  }
  bool empty() const { return used() == 0; }
  size_t capacity() const { return capacity_; }

  static constexpr size_t round_up(size_t n) { return (n + kAlign - 1) & ~(kAlign - 1); }

 private:
  // A contiguous, 8-aligned slot of `size` bytes, or nullptr. publish() makes it visible.
  void* reserve(size_t size) {
    if (size < sizeof(RecordHeader) || size > kMaxRecord) return nullptr;
    const size_t need = round_up(size);
    size_t tail = tail_.load(std::memory_order_relaxed);
    const size_t head = head_.load(std::memory_order_acquire);
    const size_t offset = tail & (capacity_ - 1);
    const size_t to_end = capacity_ - offset;
    const size_t pad = to_end < need ? to_end : 0;
    if (capacity_ - (tail - head) < pad + need) return nullptr;
    if (pad) {
      RecordHeader h{kPadding, uint16_t(0)};
      std::memcpy(bytes_.get() + offset, &h, sizeof h);
      tail += pad;
    }
    reserved_tail_ = tail + need;
    return bytes_.get() + (tail & (capacity_ - 1));
  }
  void publish() { tail_.store(reserved_tail_, std::memory_order_release); }

  const size_t capacity_;
  std::unique_ptr<std::byte[]> bytes_;  // default-initialised: pages are committed on first use
  size_t reserved_tail_ = 0;            // the producer's own
  alignas(64) std::atomic<size_t> head_{0};
  alignas(64) std::atomic<size_t> tail_{0};
};

}  // namespace turnpike::ledger
