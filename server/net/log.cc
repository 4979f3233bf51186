#include "net/log.h"

#include <fcntl.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "core/text_escape.h"

namespace turnpike::net {
namespace {

struct LogState {
  std::mutex mu;  // guards reconfiguration only; lines are written with one write(2)
  int fd = STDERR_FILENO;
  bool syslog = false;
  std::string path;
  std::atomic<bool> verbose{false};
};

LogState& state() {
  static LogState s;
  return s;
}

const char* level_name(LogLevel l) {
  switch (l) {
    case LogLevel::Error:
      return "error";
    case LogLevel::Warning:
      return "warning";
    case LogLevel::Notice:
      return "notice";
    case LogLevel::Info:
      return "info";
    case LogLevel::Debug:
      return "debug";
  }
  return "";
}

int syslog_priority(LogLevel l) {
  switch (l) {
    case LogLevel::Error:
      return LOG_ERR;
    case LogLevel::Warning:
      return LOG_WARNING;
    case LogLevel::Notice:
      return LOG_NOTICE;
    case LogLevel::Info:
      return LOG_INFO;
    case LogLevel::Debug:
      return LOG_DEBUG;
  }
  return LOG_INFO;
}

}  // namespace

std::string configure_log(const LogOptions& o) {
  LogState& s = state();
  std::lock_guard lock(s.mu);
  s.verbose = o.verbose;
  if (s.fd > STDERR_FILENO) ::close(s.fd);
  s.fd = STDERR_FILENO;
  s.syslog = false;
  s.path.clear();
  if (o.target.empty() || o.target == "stderr") return {};
  if (o.target == "stdout") {
    s.fd = STDOUT_FILENO;
    return {};
  }
  if (o.target == "syslog") {
    openlog("turnpike", LOG_PID | LOG_NDELAY, LOG_DAEMON);
    s.syslog = true;
    return {};
  }
  const int fd = ::open(o.target.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) {
    return "cannot open log-file " + o.target + ": " + std::strerror(errno) +
           " (check the directory exists and this user may write it)";
  }
  s.fd = fd;
  s.path = o.target;
  return {};
}

void reopen_log() {
  LogState& s = state();
  std::lock_guard lock(s.mu);
  if (s.path.empty()) return;
  const int fd = ::open(s.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) return;  // keep the old one
  if (s.fd > STDERR_FILENO) ::close(s.fd);
  s.fd = fd;
}

bool log_enabled(LogLevel level) {
  return level <= LogLevel::Notice || (level == LogLevel::Info && state().verbose.load());
}

void log_line(LogLevel level, std::string_view raw) {
  // Log lines carry what clients sent (usernames, realms, server names): core::escape_text makes
  // every line one line of printable UTF-8, with no terminal escape sequence in it.
  const std::string message = core::escape_text(raw);
  LogState& s = state();
  if (s.syslog) {
    syslog(syslog_priority(level), "%.*s", int(message.size()), message.data());
    return;
  }
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t{};
  gmtime_r(&ts.tv_sec, &t);
  char head[64];
  const int n = std::snprintf(head, sizeof head,
                              "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s: ", t.tm_year + 1900,
                              t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
                              ts.tv_nsec / 1'000'000, level_name(level));
  std::string line;
  line.reserve(size_t(n) + message.size() + 1);
  line.append(head, size_t(n));
  line.append(message);
  line.push_back('\n');
  const ssize_t w = ::write(s.fd, line.data(), line.size());
  (void)w;  // nowhere to report a failing log
}

}  // namespace turnpike::net
