// RAII over sqlite3 connections and prepared statements, with errors as text.
#pragma once

#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace turnpike::ledger {

class Statement {
 public:
  Statement() = default;
  explicit Statement(sqlite3_stmt* s) : stmt_(s) {}
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(Statement&& o) noexcept : stmt_(o.stmt_) { o.stmt_ = nullptr; }
  Statement& operator=(Statement&& o) noexcept {
    if (this != &o) {
      sqlite3_finalize(stmt_);
      stmt_ = o.stmt_;
      o.stmt_ = nullptr;
    }
    return *this;
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  explicit operator bool() const { return stmt_ != nullptr; }
  sqlite3_stmt* get() const { return stmt_; }

  // Binding is 1-based, as in SQLite.
  Statement& bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Statement& bind(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), int(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  // The bytes must stay put until the statement is stepped and reset (no copy is made).
  Statement& bind_static(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), int(v.size()), SQLITE_STATIC);
    return *this;
  }
  Statement& bind_null(int i) {
    sqlite3_bind_null(stmt_, i);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step() { return sqlite3_step(stmt_); }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  int64_t int_at(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::string text_at(int col) const {
    const auto* p = sqlite3_column_text(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           size_t(sqlite3_column_bytes(stmt_, col)))
             : "";
  }
  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

// SQLITE_CORRUPT or SQLITE_NOTADB (also as extended codes): the file itself is damaged, or is
// not a database at all. Retrying cannot help.
inline bool is_damaged(int rc) {
  return (rc & 0xFF) == SQLITE_CORRUPT || (rc & 0xFF) == SQLITE_NOTADB;
}

class Database {
 public:
  enum class Mode { ReadWrite, ReadOnly };

  // Opens (creating it in ReadWrite mode) and configures the connection: WAL, a busy timeout,
  // foreign keys. std::nullopt with `error` (and `code`, SQLite's result code) set on failure.
  static std::optional<Database> open(const std::string& path, Mode mode, int busy_timeout_ms,
                                      std::string* error, int* code = nullptr);

  Database(Database&& o) noexcept : db_(std::move(o.db_)) {}
  Database& operator=(Database&& o) noexcept {
    db_ = std::move(o.db_);
    return *this;
  }

  sqlite3* get() const { return db_.get(); }
  // Runs SQL without results; returns the SQLite result code.
  int exec(const char* sql, std::string* error = nullptr);
  Statement prepare(std::string_view sql, std::string* error = nullptr);
  std::string last_error() const { return sqlite3_errmsg(db_.get()); }
  int last_code() const { return sqlite3_extended_errcode(db_.get()); }

 private:
  struct Closer {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  explicit Database(sqlite3* db) : db_(db) {}
  std::unique_ptr<sqlite3, Closer> db_;
};

}  // namespace turnpike::ledger
