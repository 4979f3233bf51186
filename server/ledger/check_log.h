// The check page's rows in the ledger (schema/004_checks.sql), written by the relay's check
// page handler (on the HTTP server's thread, never a relay worker): claim() makes the row when
// the page takes its credentials, and the table's primary key makes a link single-use across
// restarts; finish() adds the result once. Read back by turnpike-admin checks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ledger/sqlite_db.h"

namespace turnpike::ledger {

struct CheckRow {
  std::string id, node, note, client_ip, user_agent, turn_username;
  int64_t expires_at = 0, opened_at = 0;
  std::optional<int64_t> finished_at;
  std::string verdict, results;  // results: a JSON array, as the page sent it (validated)
};

class CheckLog {
 public:
  explicit CheckLog(std::string path) : path_(std::move(path)) {}

  enum class Claim : uint8_t { Claimed, AlreadyUsed, Failed };
  // The row for a link being used: Claimed once, AlreadyUsed after that; Failed (with `error`)
  // when the ledger cannot be written.
  Claim claim(const CheckRow& opened, std::string* error);

  enum class Finish : uint8_t { Recorded, Unknown, AlreadyFinished, Failed };
  // The page's result for a claimed link; only the first one counts.
  Finish finish(const std::string& id, int64_t finished_at, const std::string& user_agent,
                const std::string& verdict, const std::string& results, std::string* error);

 private:
  bool ready(std::string* error);
  std::string path_;
  std::optional<Database> db_;
};

// Newest first.
std::vector<CheckRow> query_checks(Database& db, std::optional<int64_t> since_ms, int limit);

}  // namespace turnpike::ledger
