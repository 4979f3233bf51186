#include "net/log_queue.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <time.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <string>
#include <unordered_map>
#include <utility>

#include "core/utf8.h"

namespace turnpike::net {
namespace {

std::atomic<uint64_t> next_queue_id{1};

int64_t now_ns() {
  timespec t{};
  clock_gettime(CLOCK_REALTIME, &t);
  return int64_t(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

// One line as it waits in a ring: only the bytes its text uses are copied.
struct LineRecord {
  ledger::RecordHeader header;  // kind: the level
  int64_t unix_ns = 0;
  char text[LogQueue::kMaxLine];
};
constexpr size_t kTextOffset = offsetof(LineRecord, text);

constexpr std::string_view kCut = " [...]";

}  // namespace

struct LogQueue::Ring {
  ledger::RecordRing ring{kRingBytes};
  std::atomic<uint64_t> dropped{0};
};

struct LogQueue::Shared {
  explicit Shared(LogOutput& o) : out(o), wake(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  LogOutput& out;
  UniqueFd wake;
  std::atomic<bool> sleeping{false};
  std::atomic<bool> stopping{false};
  std::atomic<bool> reopen{false};
  std::mutex mu;  // rings and by_thread: a thread's first line, and the logger's pass over them
  std::vector<std::unique_ptr<Ring>> rings;
  std::unordered_map<std::thread::id, Ring*> by_thread;
  std::condition_variable finished_cv;
  bool finished = false;

  void notify() {
    // Publishing the line (in push) and reading `sleeping` must not be reordered: the logger sets
    // `sleeping` and then looks at the rings once more before it waits.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (sleeping.load(std::memory_order_relaxed)) {
      const uint64_t one = 1;
      const ssize_t n = ::write(wake.get(), &one, sizeof one);  // non-blocking eventfd
      (void)n;
    }
  }
};

LogQueue::LogQueue(LogOutput& out)
    : shared_(std::make_shared<Shared>(out)), id_(next_queue_id.fetch_add(1)) {}

LogQueue::~LogQueue() { stop(std::chrono::seconds(2)); }

void LogQueue::start() {
  if (thread_.joinable()) return;
  shared_->stopping = false;
  thread_ = std::thread([s = shared_] { run(s); });
  running_.store(true, std::memory_order_release);
}

bool LogQueue::stop(std::chrono::milliseconds timeout) {
  if (!thread_.joinable()) return true;
  running_.store(false, std::memory_order_release);
  Shared& s = *shared_;
  s.stopping = true;
  s.sleeping = true;  // wake it whatever it is doing
  s.notify();
  std::unique_lock lock(s.mu);
  if (s.finished_cv.wait_for(lock, timeout, [&] { return s.finished; })) {
    lock.unlock();
    thread_.join();
    return true;
  }
  lock.unlock();
  thread_.detach();  // stuck in a write: it ends by itself when the write returns
  return false;
}

LogQueue::Ring& LogQueue::ring_of_this_thread() {
  thread_local uint64_t cached_queue = 0;
  thread_local Ring* cached_ring = nullptr;
  if (cached_queue == id_) return *cached_ring;
  Shared& s = *shared_;
  std::lock_guard lock(s.mu);
  Ring*& r = s.by_thread[std::this_thread::get_id()];
  if (!r) {
    s.rings.push_back(std::make_unique<Ring>());
    r = s.rings.back().get();
  }
  cached_queue = id_;
  cached_ring = r;
  return *r;
}

void LogQueue::attach() { ring_of_this_thread(); }

void LogQueue::push(LogLevel level, std::string_view text) {
  Ring& r = ring_of_this_thread();
  LineRecord rec;
  rec.unix_ns = now_ns();
  size_t n = text.size();
  if (n > kMaxLine) {
    n = core::utf8_prefix(text, kMaxLine - kCut.size());  // never in the middle of a character
    std::memcpy(rec.text, text.data(), n);
    std::memcpy(rec.text + n, kCut.data(), kCut.size());
    n += kCut.size();
  } else {
    std::memcpy(rec.text, text.data(), n);
  }
  if (!r.ring.push(&rec, kTextOffset + n, uint8_t(level))) {
    r.dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  shared_->notify();
}

void LogQueue::reopen() {
  shared_->reopen = true;
  shared_->sleeping = true;
  shared_->notify();
}

uint64_t LogQueue::dropped() const {
  std::lock_guard lock(shared_->mu);
  uint64_t n = 0;
  for (const auto& r : shared_->rings) n += r->dropped.load(std::memory_order_relaxed);
  return n;
}

void LogQueue::run(const std::shared_ptr<Shared>& state) {
  Shared& s = *state;
  struct Line {
    int64_t unix_ns;
    LogLevel level;
    std::string text;
  };
  std::vector<Line> batch;
  uint64_t reported = 0;
  while (true) {
    if (s.reopen.exchange(false)) s.out.reopen();
    batch.clear();
    uint64_t dropped = 0;
    {
      std::lock_guard lock(s.mu);
      for (auto& r : s.rings) {
        r->ring.drain([&](const ledger::RecordHeader& h, const std::byte* p) {
          LineRecord rec;
          std::memcpy(&rec, p, h.size);
          batch.push_back({rec.unix_ns, LogLevel(h.kind),
                           std::string(rec.text, h.size - kTextOffset)});
        });
        dropped += r->dropped.load(std::memory_order_relaxed);
      }
    }
    if (batch.empty() && dropped == reported) {
      if (s.stopping) break;
      s.sleeping.store(true, std::memory_order_seq_cst);
      std::atomic_thread_fence(std::memory_order_seq_cst);
      bool queued = false;
      {
        std::lock_guard lock(s.mu);
        for (auto& r : s.rings) queued = queued || !r->ring.empty();
      }
      if (!queued && !s.stopping && !s.reopen) {
        pollfd p{s.wake.get(), POLLIN, 0};
        ::poll(&p, 1, 1000);
        uint64_t count;
        const ssize_t n = ::read(s.wake.get(), &count, sizeof count);
        (void)n;
      }
      s.sleeping.store(false, std::memory_order_relaxed);
      continue;
    }
    // Lines of different threads in the order they were written.
    std::stable_sort(batch.begin(), batch.end(),
                     [](const Line& a, const Line& b) { return a.unix_ns < b.unix_ns; });
    for (const Line& l : batch) s.out.write(l.level, l.unix_ns, l.text);
    {
      // Counted again after the writes, which may have been stuck for long: one line for all the
      // lines lost meanwhile.
      std::lock_guard lock(s.mu);
      dropped = 0;
      for (auto& r : s.rings) dropped += r->dropped.load(std::memory_order_relaxed);
    }
    if (dropped > reported) {
      // The output is moving again (the writes above returned): say what it cost.
      s.out.write(LogLevel::Warning, now_ns(),
                  "log: " + std::to_string(dropped - reported) +
                      " line(s) were dropped while the log output was not keeping up (" +
                      std::to_string(dropped) + " since start); relaying was not affected");
      reported = dropped;
    }
  }
  std::lock_guard lock(s.mu);
  s.finished = true;
  s.finished_cv.notify_all();
}

}  // namespace turnpike::net
