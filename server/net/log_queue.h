// The daemon's log leaves the thread that writes a line: every thread hands its lines to a ring
// of its own (lock-free, single producer, like the ledger's), and one logger thread drains them
// all and writes to the LogOutput. A worker never waits on write(2) or syslog(): when the output
// stalls (journald behind a full pipe, a FIFO nobody reads, a slow disk), its ring fills and
// further lines are dropped and counted; relaying goes on, and once the output moves again the
// logger says how many lines were lost.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include "ledger/record_ring.h"
#include "net/log_output.h"
#include "net/unique_fd.h"

namespace turnpike::net {

class LogQueue {
 public:
  // A line longer than this is cut (and marked): a record has a fixed upper size.
  static constexpr size_t kMaxLine = 1000;
  // Per thread that logs; pages are touched only as lines pass through.
  static constexpr size_t kRingBytes = 64 * 1024;

  // `out` is written by the logger thread only, from start() to stop().
  explicit LogQueue(LogOutput& out);
  ~LogQueue();  // stop(2 s). `out` must outlive a logger thread that stop() left stuck
  LogQueue(const LogQueue&) = delete;
  LogQueue& operator=(const LogQueue&) = delete;

  void start();
  // Writes what is queued and ends the logger. False when the output is still stuck after
  // `timeout`: the logger thread is then left to itself (it ends when its write returns).
  bool stop(std::chrono::milliseconds timeout);
  bool running() const { return running_.load(std::memory_order_acquire); }

  // Any thread, never blocks: the line goes to the calling thread's ring, or is dropped and
  // counted when that is full. A thread's first line (or attach()) allocates its ring.
  void push(LogLevel level, std::string_view text);
  // Allocates the calling thread's ring now (a worker does it before relaying).
  void attach();
  // The output's file is reopened by the logger thread, between two lines.
  void reopen();

  uint64_t dropped() const;

 private:
  struct Ring;
  struct Shared;
  Ring& ring_of_this_thread();
  static void run(const std::shared_ptr<Shared>& s);

  std::shared_ptr<Shared> shared_;  // with the logger thread, which may outlive a stuck stop()
  std::atomic<bool> running_{false};
  std::thread thread_;
  const uint64_t id_;  // tells this queue's rings from another's in a thread's cache
};

}  // namespace turnpike::net
