// The daemon's log: one line per event, to stderr, stdout, a file or syslog. Once
// start_log_thread() has run, a line is handed to the calling thread's queue (LogQueue) and
// written by a logger thread, so no worker ever waits for the log's output; before it (start-up)
// and after stop_log_thread(), lines are written directly. Never used on the relay path.
#pragma once

#include <chrono>
#include <cstdint>
#include <ostream>
#include <streambuf>
#include <string>
#include <string_view>

#include "net/log_output.h"

namespace turnpike::net {

struct LogOptions {
  std::string target;  // "", "stderr", "stdout", "syslog" or a path
  bool verbose = false;
};

// Configures the process-wide log. Returns an error text when a log file cannot be opened.
// Call before start_log_thread().
std::string configure_log(const LogOptions& o);
// From now on lines go through the queue and the logger thread.
void start_log_thread();
// Writes what is queued (waiting at most `timeout` for a stalled output) and returns to direct
// writing; lines that cannot be written because the output is still stuck are dropped.
void stop_log_thread(std::chrono::milliseconds timeout = std::chrono::seconds(2));
// start_log_thread() for a scope: every return path of main() writes what is queued.
struct LogThreadScope {
  LogThreadScope() { start_log_thread(); }
  ~LogThreadScope() { stop_log_thread(); }
  LogThreadScope(const LogThreadScope&) = delete;
  LogThreadScope& operator=(const LogThreadScope&) = delete;
};
// Gives the calling thread its queue now (workers call it before relaying), so that its first
// line does not allocate.
void attach_log_thread();
// Reopens a log file (after logrotate moved it); called on SIGHUP.
void reopen_log();
// Lines dropped because the output could not keep up (counted by the queue).
uint64_t log_lines_dropped();
bool log_enabled(LogLevel level);
// Writes `message` escaped by core::escape_text (so callers pass client bytes as they are).
void log_line(LogLevel level, std::string_view message);

// A line formatted into a fixed buffer on the stack: no allocation on the logging thread.
class LogLineBuffer : public std::streambuf {
 public:
  static constexpr size_t kSize = 1024;
  LogLineBuffer() { setp(buf_, buf_ + kSize); }
  std::string_view view() const { return std::string_view(buf_, size_t(pptr() - pbase())); }

 private:
  char buf_[kSize];  // what does not fit is cut (the queue's record is no larger)
};

template <typename... Args>
void log(LogLevel level, const Args&... args) {
  if (!log_enabled(level)) return;
  LogLineBuffer buf;
  std::ostream s(&buf);
  (s << ... << args);
  log_line(level, buf.view());
}

}  // namespace turnpike::net
