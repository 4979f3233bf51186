// Where the daemon's log lines go: stderr, stdout, a file (reopened after logrotate) or syslog.
// Each line is stamped (UTC, milliseconds), given its level and escaped with core::escape_text,
// because lines carry what clients sent. Writing may block (a full pipe to journald, a stalled
// disk): only the logger thread of a LogQueue writes once the daemon runs, never a worker.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace turnpike::net {

enum class LogLevel : uint8_t { Error, Warning, Notice, Info, Debug };

class LogOutput {
 public:
  LogOutput() = default;
  explicit LogOutput(int fd) : fd_(fd) {}  // a descriptor the caller owns (tests)
  ~LogOutput();
  LogOutput(const LogOutput&) = delete;
  LogOutput& operator=(const LogOutput&) = delete;

  // "", "stderr", "stdout", "syslog" or a path. An error text when a file cannot be opened.
  std::string open(const std::string& target);
  // Reopens the file (logrotate moved it); keeps the old one when that fails.
  void reopen();
  // One line, with its time (unix ns) and level; blocks until written (or the sink fails).
  void write(LogLevel level, int64_t unix_ns, std::string_view text);

 private:
  void close_owned();

  int fd_ = 2;
  bool owned_ = false;  // fd_ is a file this opened
  bool syslog_ = false;
  std::string path_;
};

}  // namespace turnpike::net
