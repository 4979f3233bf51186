#include "net/log.h"

#include <time.h>

#include <atomic>
#include <mutex>

#include "net/log_queue.h"

namespace turnpike::net {
namespace {

struct LogState {
  std::mutex mu;  // configuration, the direct writes, and starting and stopping the queue
  LogOutput output;
  LogQueue queue{output};
  std::atomic<bool> queued{false};  // lines go to the queue
  std::atomic<bool> stuck{false};   // the queue was stopped while its output was stuck
  std::atomic<uint64_t> dropped_while_stuck{0};
  std::atomic<bool> verbose{false};
};

// Never destroyed: a logger thread left stuck in a write at exit still uses it.
LogState& state() {
  static LogState* s = new LogState;
  return *s;
}

}  // namespace

std::string configure_log(const LogOptions& o) {
  LogState& s = state();
  std::lock_guard lock(s.mu);
  s.verbose = o.verbose;
  return s.output.open(o.target);
}

void start_log_thread() {
  LogState& s = state();
  std::lock_guard lock(s.mu);
  s.queue.start();
  s.queued = true;
}

void stop_log_thread(std::chrono::milliseconds timeout) {
  LogState& s = state();
  std::lock_guard lock(s.mu);
  if (!s.queued) return;
  s.queued = false;
  // Lines logged from now on are written directly, unless the output is stuck: then they are
  // dropped, as the queue did, rather than block this thread too.
  if (!s.queue.stop(timeout)) s.stuck = true;
}

void attach_log_thread() {
  if (state().queued) state().queue.attach();
}

void reopen_log() {
  LogState& s = state();
  if (s.queued) {
    s.queue.reopen();
    return;
  }
  std::lock_guard lock(s.mu);
  s.output.reopen();
}

uint64_t log_lines_dropped() {
  LogState& s = state();
  return s.queue.dropped() + s.dropped_while_stuck.load();
}

bool log_enabled(LogLevel level) {
  return level <= LogLevel::Notice || (level == LogLevel::Info && state().verbose.load());
}

void log_line(LogLevel level, std::string_view message) {
  LogState& s = state();
  if (s.queued.load(std::memory_order_acquire)) {
    s.queue.push(level, message);
    return;
  }
  if (s.stuck) {
    s.dropped_while_stuck.fetch_add(1);
    return;
  }
  timespec t{};
  clock_gettime(CLOCK_REALTIME, &t);
  std::lock_guard lock(s.mu);
  s.output.write(level, int64_t(t.tv_sec) * 1'000'000'000 + t.tv_nsec, message);
}

}  // namespace turnpike::net
