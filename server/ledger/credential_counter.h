// How many credentials the key desk (Prosody's lua_module) has issued into this relay's ledger,
// for /metrics: a counter that only grows while the process runs, even when retention prunes
// old rows. Reads through its own read-only connection, counting only the rows added since the
// last call (by id), so a scrape costs one indexed range query. Not thread-safe: one caller
// (the HTTP server's thread).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "ledger/sqlite_db.h"

namespace turnpike::ledger {

class CredentialCounter {
 public:
  explicit CredentialCounter(std::string path) : path_(std::move(path)) {}
  // What was counted so far. While the ledger cannot be read (not created yet, locked,
  // damaged) nothing is added; the next call tries again.
  uint64_t total();

 private:
  std::string path_;
  std::optional<Database> db_;
  int64_t last_id_ = 0;
  uint64_t total_ = 0;
};

}  // namespace turnpike::ledger
