#include "ledger/migrations.h"

#include <cstdint>
#include <ctime>
#include <memory>
#include <string_view>

namespace turnpike::ledger {

int schema_version(Database& db) {
  Statement s = db.prepare("SELECT coalesce(max(version), 0) FROM schema_version");
  if (!s) return 0;  // no table yet
  if (s.step() != SQLITE_ROW) return -1;
  return int(s.int_at(0));
}

std::optional<Database> open_for_writing(const std::string& path, std::string* error,
                                         int* code) {
  auto db = Database::open(path, Database::Mode::ReadWrite, 2000, error, code);
  if (!db || !apply_migrations(*db, error, code)) return std::nullopt;
  return db;
}

bool apply_migrations(Database& db, std::string* error, int* code) {
  std::string err;
  if (int rc = db.exec("BEGIN IMMEDIATE", &err); rc != SQLITE_OK) {
    if (error) *error = "cannot lock the ledger to update its schema: " + err;
    if (code) *code = rc;
    return false;
  }
  auto fail = [&](const std::string& what) {
    if (code) *code = db.last_code();
    db.exec("ROLLBACK");
    if (error) *error = what;
    return false;
  };
  if (db.exec("CREATE TABLE IF NOT EXISTS schema_version ("
              " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
              &err) != SQLITE_OK) {
    return fail("cannot create schema_version: " + err);
  }
  const int current = schema_version(db);
  if (current < 0) return fail("cannot read schema_version: " + db.last_error());
  const int newest = migrations().empty() ? 0 : migrations().back().version;
  if (current > newest) {
    return fail("the ledger is at schema version " + std::to_string(current) +
                ", newer than this program knows (" + std::to_string(newest) +
                "); upgrade turnpike");
  }
  for (const Migration& m : migrations()) {
    if (m.version <= current) continue;
    if (db.exec(m.sql, &err) != SQLITE_OK)
      return fail(std::string("migration ") + m.name + " failed: " + err);
    Statement ins =
        db.prepare("INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)");
    ins.bind(1, int64_t(m.version))
        .bind(2, std::string_view(m.name))
        .bind(3, int64_t(std::time(nullptr)) * 1000);
    if (ins.step() != SQLITE_DONE)
      return fail("cannot record migration " + std::string(m.name) + ": " + db.last_error());
  }
  if (db.exec("COMMIT", &err) != SQLITE_OK) return fail("cannot commit the schema: " + err);
  return true;
}

}  // namespace turnpike::ledger
