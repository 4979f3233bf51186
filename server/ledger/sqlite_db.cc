#include "ledger/sqlite_db.h"

#include <chrono>
#include <thread>

namespace turnpike::ledger {

std::optional<Database> Database::open(const std::string& path, Mode mode, int busy_timeout_ms,
                                       std::string* error, int* code) {
  sqlite3* raw = nullptr;
  const int flags =
      (mode == Mode::ReadOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
      SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Database db(raw);
  if (rc != SQLITE_OK) {
    if (error)
      *error =
          "cannot open ledger " + path + ": " + (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc));
    if (code) *code = rc;
    return std::nullopt;
  }
  sqlite3_busy_timeout(raw, busy_timeout_ms);
  sqlite3_extended_result_codes(raw, 1);
  std::string err;
  if (mode == Mode::ReadWrite) {
    // WAL: readers (turnpike-admin) never block the writer, and two writers (the relay and the
    // Prosody module) take turns. NORMAL is durable across a process crash in WAL mode.
    // Switching a new file to WAL can report "locked" at once, without the busy handler, when
    // another process is doing the same at that moment: retry within the busy timeout.
    int rc = SQLITE_BUSY;
    for (int waited = 0; waited <= busy_timeout_ms; waited += 10) {
      rc = db.exec("PRAGMA journal_mode=WAL", &err);
      if ((rc & 0xFF) != SQLITE_BUSY && (rc & 0xFF) != SQLITE_LOCKED) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (rc == SQLITE_OK) rc = db.exec("PRAGMA synchronous=NORMAL", &err);
    if (rc != SQLITE_OK) {
      if (error) *error = "cannot set up ledger " + path + ": " + err;
      if (code) *code = rc;
      return std::nullopt;
    }
  }
  db.exec("PRAGMA foreign_keys=ON;");
  return db;
}

int Database::exec(const char* sql, std::string* error) {
  char* msg = nullptr;
  const int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, &msg);
  if (rc != SQLITE_OK && error) *error = msg ? msg : sqlite3_errstr(rc);
  sqlite3_free(msg);
  return rc;
}

Statement Database::prepare(std::string_view sql, std::string* error) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v3(db_.get(), sql.data(), int(sql.size()), SQLITE_PREPARE_PERSISTENT, &s,
                         nullptr) != SQLITE_OK) {
    if (error) *error = sqlite3_errmsg(db_.get());
    return Statement();
  }
  return Statement(s);
}

}  // namespace turnpike::ledger
