// A bounded single-producer single-consumer ring: one worker thread produces, the ledger writer
// consumes. Lock-free: the two sides share only two atomic indices.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <memory>

namespace turnpike::ledger {

template <typename T, size_t N>
class SpscRing {
  static_assert((N & (N - 1)) == 0, "N must be a power of two");

 public:
  // Producer: a slot to fill, or nullptr when full. publish() makes it visible.
  T* reserve() {
    const size_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - head_.load(std::memory_order_acquire) >= N) return nullptr;
    return &slots_[tail & (N - 1)];
  }
  void publish() {
    tail_.store(tail_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }

  // Consumer: calls f(const T&) for up to `max` items, oldest first; returns how many.
  template <typename F>
  size_t drain(F&& f, size_t max = N) {
    size_t head = head_.load(std::memory_order_relaxed);
    const size_t tail = tail_.load(std::memory_order_acquire);
    size_t n = 0;
    while (head != tail && n < max) {
      f(slots_[head & (N - 1)]);
      ++head;
      ++n;
      head_.store(head, std::memory_order_release);
    }
    return n;
  }
  size_t size() const {
    return tail_.load(std::memory_order_acquire) - head_.load(std::memory_order_acquire);
  }
  static constexpr size_t capacity() { return N; }

 private:
  std::array<T, N> slots_{};
  alignas(64) std::atomic<size_t> head_{0};
  alignas(64) std::atomic<size_t> tail_{0};
};

}  // namespace turnpike::ledger
