#include "cmd/admin_format.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <memory>

#include "core/text_escape.h"
#include "core/utf8.h"

namespace turnpike::cmd {

namespace {

std::string format_utc(int64_t unix_ms, const char* format) {
  const time_t t = time_t(unix_ms / 1000);
  tm g{};
  gmtime_r(&t, &g);
  char buf[32];
  std::strftime(buf, sizeof buf, format, &g);
  return buf;
}

}  // namespace

std::string format_time(int64_t unix_ms) {
  return format_utc(unix_ms, "%Y-%m-%d %H:%M:%S");
}

std::string format_iso(int64_t unix_ms) {
  return format_utc(unix_ms, "%Y-%m-%dT%H:%M:%SZ");
}

std::string format_duration(int64_t ms) {
  const int64_t s = ms < 0 ? 0 : ms / 1000;
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else if (s < 86400) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lldd%02lldh", static_cast<long long>(s / 86400),
                  static_cast<long long>(s % 86400 / 3600));
  }
  return buf;
}

std::string format_bytes(int64_t b) {
  char buf[32];
  if (b < 1000) {
    std::snprintf(buf, sizeof buf, "%lld B", static_cast<long long>(b));
  } else if (b < 1000 * 1000) {
    std::snprintf(buf, sizeof buf, "%.1f kB", double(b) / 1e3);
  } else if (b < 1000LL * 1000 * 1000) {
    std::snprintf(buf, sizeof buf, "%.1f MB", double(b) / 1e6);
  } else {
    std::snprintf(buf, sizeof buf, "%.2f GB", double(b) / 1e9);
  }
  return buf;
}

std::optional<int64_t> parse_duration(const std::string& text) {
  if (text.empty() || text.size() > 12) return std::nullopt;
  const char unit = text.back();
  const std::string number = text.substr(0, text.size() - 1);
  if ((unit == 's' || unit == 'm' || unit == 'h' || unit == 'd') && !number.empty() &&
      number.find_first_not_of("0123456789") == std::string::npos) {
    const int64_t n = std::stoll(number);
    const int64_t mult = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : 86400;
    return n * mult;
  }
  return std::nullopt;
}

std::optional<int64_t> parse_since(const std::string& text, int64_t now_ms) {
  if (text.empty()) return std::nullopt;
  // A duration before now.
  if (auto d = parse_duration(text)) return now_ms - *d * 1000;
  if (text.find_first_not_of("0123456789") == std::string::npos && text.size() >= 9) {
    return std::stoll(text) * 1000;  // unix seconds
  }
  tm g{};
  const char* formats[] = {"%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S",
                           "%Y-%m-%d %H:%M", "%Y-%m-%d"};
  for (const char* f : formats) {
    g = tm{};
    const char* end = strptime(text.c_str(), f, &g);
    if (end && *end == '\0') return int64_t(timegm(&g)) * 1000;
  }
  return std::nullopt;
}

void Table::add(std::vector<std::string> row) {
  for (std::string& cell : row) cell = core::escape_text(cell);
  rows_.push_back(std::move(row));
}

std::string Table::str() const {
  std::vector<size_t> width;
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], core::utf8_length(row[i]));
    }
  }
  std::string out;
  for (const auto& row : rows_) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) {
        line += std::string(width[i] - core::utf8_length(row[i]) + 2, ' ');
      }
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace turnpike::cmd
