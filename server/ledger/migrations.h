// The ledger's schema: numbered migrations (schema/NNN_name.sql) applied in order at open,
// recorded in schema_version. Idempotent, and safe when the relay and the Prosody module open
// the same file at the same moment (the check and the changes run in one IMMEDIATE
// transaction, so the second opener waits, then finds nothing left to do).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ledger/sqlite_db.h"

namespace turnpike::ledger {

struct Migration {
  int version;
  const char* name;
  const char* sql;
};

// Embedded at build time from schema/*.sql, in order.
const std::vector<Migration>& migrations();

// Brings `db` up to the newest version. Returns false with `error` (and `code`, SQLite's result
// code, when SQLite failed) set on failure, and leaves the file as it was.
bool apply_migrations(Database& db, std::string* error, int* code = nullptr);

// The ledger opened for writing, as the relay's writer and the Prosody module's credential log
// both need it: read-write, a 2 s busy timeout, migrations applied. Nothing (with `error` set,
// and `code` to SQLite's result code) when either step fails.
std::optional<Database> open_for_writing(const std::string& path, std::string* error,
                                         int* code = nullptr);

// The version the file is at (0 for a new file), or -1 when it cannot be read.
int schema_version(Database& db);

}  // namespace turnpike::ledger
