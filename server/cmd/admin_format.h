// Formatting for turnpike-admin: times, durations, byte counts, aligned tables, and --since.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace turnpike::cmd {

std::string format_time(int64_t unix_ms);  // "2026-11-22 21:54:25" (UTC)
std::string format_iso(int64_t unix_ms);   // "2026-11-22T21:54:25Z"
std::string format_duration(int64_t ms);   // "6s", "4m12s", "2h03m", "3d04h"
std::string format_bytes(int64_t bytes);   // "812 B", "20.0 kB", "1.3 MB"

// "90s", "30m", "2h", "7d" as seconds; std::nullopt for anything else.
std::optional<int64_t> parse_duration(const std::string& text);

// --since: unix seconds, "2026-11-22", "2026-11-22T10:00:00Z", "2026-11-22 10:00", or a
// duration before now: "90s", "30m", "2h", "7d". std::nullopt when it is none of these.
std::optional<int64_t> parse_since(const std::string& text, int64_t now_ms);

// Columns aligned by characters. Every cell is shown through core::escape_text, so a cell may
// hold what a client sent (a username, a realm) as it is stored.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : rows_{std::move(header)} {}
  void add(std::vector<std::string> row);
  std::string str() const;
  size_t size() const { return rows_.size() - 1; }

 private:
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace turnpike::cmd
