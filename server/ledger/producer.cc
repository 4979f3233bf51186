#include "ledger/producer.h"

#include <cstring>
#include <thread>

namespace turnpike::ledger {

uint64_t Producer::dropped_total() const {
  uint64_t n = 0;
  for (const auto& d : dropped_) n += d.load(std::memory_order_relaxed);
  return n;
}

void Producer::flush() {
  while (!backlog_empty()) {
    const std::byte* p = backlog_.data() + backlog_head_;
    RecordHeader h;
    std::memcpy(&h, p, sizeof h);
    if (!ring.push(p, h.size, h.kind)) break;
    backlog_head_ += RecordRing::round_up(h.size);
  }
  if (backlog_empty() && !backlog_.empty()) {
    backlog_.clear();
    backlog_.shrink_to_fit();  // a burst's memory goes back once it has gone through
    backlog_head_ = 0;
  }
}

bool Producer::push_bytes(const void* e, size_t size, EventKind kind) {
  if (!backlog_empty()) flush();
  // Behind what waits in the backlog, never before it: a session's end must follow its start.
  if (backlog_empty() && ring.push(e, size, uint8_t(kind))) return true;
  const size_t n = RecordRing::round_up(size);
  if (backlog_bytes() + n > backlog_max_) {
    dropped_[size_t(kind)].fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  if (backlog_head_ > backlog_.size() / 2) {  // keep the vector from growing at the front
    backlog_.erase(backlog_.begin(), backlog_.begin() + ptrdiff_t(backlog_head_));
    backlog_head_ = 0;
  }
  const size_t at = backlog_.size();
  backlog_.resize(at + n);
  std::memcpy(backlog_.data() + at, e, size);
  const RecordHeader h{uint8_t(kind), uint16_t(size)};
  std::memcpy(backlog_.data() + at, &h, sizeof h);
  return true;
}

bool Producer::push_waiting(const void* e, size_t size, EventKind kind,
                            std::chrono::steady_clock::time_point deadline) {
  while (true) {
    flush();
    if (backlog_empty() && ring.push(e, size, uint8_t(kind))) return true;
    if (std::chrono::steady_clock::now() >= deadline) return push_bytes(e, size, kind);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace turnpike::ledger
