#include "net/log_output.h"

#include <fcntl.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/text_escape.h"

namespace turnpike::net {
namespace {

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

int open_file(const std::string& path) {
  return ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
}

}  // namespace

LogOutput::~LogOutput() { close_owned(); }

void LogOutput::close_owned() {
  if (owned_) ::close(fd_);
  owned_ = false;
}

std::string LogOutput::open(const std::string& target) {
  close_owned();
  fd_ = STDERR_FILENO;
  syslog_ = false;
  path_.clear();
  if (target.empty() || target == "stderr") return {};
  if (target == "stdout") {
    fd_ = STDOUT_FILENO;
    return {};
  }
  if (target == "syslog") {
    openlog("turnpike", LOG_PID | LOG_NDELAY, LOG_DAEMON);
    syslog_ = true;
    return {};
  }
  const int fd = open_file(target);
  if (fd < 0) {
    return "cannot open log-file " + target + ": " + std::strerror(errno) +
           " (check the directory exists and this user may write it)";
  }
  fd_ = fd;
  owned_ = true;
  path_ = target;
  return {};
}

void LogOutput::reopen() {
  if (path_.empty()) return;
  const int fd = open_file(path_);
  if (fd < 0) return;  // keep the old one
  close_owned();
  fd_ = fd;
  owned_ = true;
}

void LogOutput::write(LogLevel level, int64_t unix_ns, std::string_view text) {
  // Log lines carry what clients sent (usernames, realms, server names): core::escape_text makes
  // every line one line of printable UTF-8, with no terminal escape sequence in it.
  const std::string message = core::escape_text(text);
  if (syslog_) {
    syslog(syslog_priority(level), "%.*s", int(message.size()), message.data());
    return;
  }
  const time_t secs = time_t(unix_ns / 1'000'000'000);
  tm t{};
  gmtime_r(&secs, &t);
  char head[64];
  const int n = std::snprintf(head, sizeof head, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s: ",
                              t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min,
                              t.tm_sec, int(unix_ns / 1'000'000 % 1000), level_name(level));
  std::string line;
  line.reserve(size_t(n) + message.size() + 1);
  line.append(head, size_t(n));
  line.append(message);
  line.push_back('\n');
  for (size_t done = 0; done < line.size();) {
    const ssize_t w = ::write(fd_, line.data() + done, line.size() - done);
    if (w > 0) {
      done += size_t(w);
    } else if (w < 0 && errno == EINTR) {
      continue;
    } else {
      return;  // nowhere to report a failing log
    }
  }
}

}  // namespace turnpike::net
