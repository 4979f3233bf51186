// The daemon's log: one line per event, to stderr, stdout, a file or syslog. Thread-safe (one
// write(2) per line). Never used on the relay path.
#pragma once

#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>

namespace turnpike::net {

enum class LogLevel : uint8_t { Error, Warning, Notice, Info, Debug };

struct LogOptions {
  std::string target;  // "", "stderr", "stdout", "syslog" or a path
  bool verbose = false;
};

// Configures the process-wide log. Returns an error text when a log file cannot be opened.
std::string configure_log(const LogOptions& o);
// Reopens a log file (after logrotate moved it); called on SIGHUP.
void reopen_log();
bool log_enabled(LogLevel level);
// Writes `message` escaped by core::escape_text (so callers pass client bytes as they are).
void log_line(LogLevel level, std::string_view message);

template <typename... Args>
void log(LogLevel level, const Args&... args) {
  if (!log_enabled(level)) return;
  std::ostringstream s;
  (s << ... << args);
  log_line(level, s.str());
}

}  // namespace turnpike::net
