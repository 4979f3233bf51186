#include "ledger/check_log.h"

#include <utility>

#include "ledger/migrations.h"

namespace turnpike::ledger {

bool CheckLog::ready(std::string* error) {
  if (db_) return true;
  db_ = open_for_writing(path_, error);
  return db_.has_value();
}

CheckLog::Claim CheckLog::claim(const CheckRow& c, std::string* error) {
  if (!ready(error)) return Claim::Failed;
  Statement s = db_->prepare(
      "INSERT INTO checks (id, node, note, expires_at, opened_at, client_ip, user_agent, "
      "turn_username) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (id) DO NOTHING",
      error);
  if (!s) {
    db_.reset();  // opened again next time (the file may have been replaced)
    return Claim::Failed;
  }
  s.bind(1, c.id).bind(2, c.node).bind(3, c.note).bind(4, c.expires_at).bind(5, c.opened_at);
  s.bind(6, c.client_ip).bind(7, c.user_agent).bind(8, c.turn_username);
  if (s.step() != SQLITE_DONE) {
    *error = db_->last_error();
    return Claim::Failed;
  }
  return sqlite3_changes(db_->get()) == 1 ? Claim::Claimed : Claim::AlreadyUsed;
}

CheckLog::Finish CheckLog::finish(const std::string& id, int64_t finished_at,
                                  const std::string& user_agent, const std::string& verdict,
                                  const std::string& results, std::string* error) {
  if (!ready(error)) return Finish::Failed;
  Statement s = db_->prepare(
      "UPDATE checks SET finished_at = ?2, verdict = ?3, results = ?4, "
      "user_agent = CASE WHEN ?5 = '' THEN user_agent ELSE ?5 END "
      "WHERE id = ?1 AND finished_at IS NULL",
      error);
  if (!s) {
    db_.reset();
    return Finish::Failed;
  }
  s.bind(1, id).bind(2, finished_at).bind(3, verdict).bind(4, results).bind(5, user_agent);
  if (s.step() != SQLITE_DONE) {
    *error = db_->last_error();
    return Finish::Failed;
  }
  if (sqlite3_changes(db_->get()) == 1) return Finish::Recorded;
  Statement q = db_->prepare("SELECT finished_at IS NOT NULL FROM checks WHERE id = ?1");
  if (!q) return Finish::Failed;
  q.bind(1, id);
  if (q.step() != SQLITE_ROW) return Finish::Unknown;
  return Finish::AlreadyFinished;
}

std::vector<CheckRow> query_checks(Database& db, std::optional<int64_t> since_ms, int limit) {
  std::vector<CheckRow> out;
  Statement s = db.prepare(
      "SELECT id, node, note, client_ip, user_agent, turn_username, expires_at, opened_at, "
      "finished_at, coalesce(verdict, ''), coalesce(results, '') FROM checks "
      "WHERE opened_at >= ?1 ORDER BY opened_at DESC LIMIT ?2");
  if (!s) return out;
  s.bind(1, since_ms.value_or(0)).bind(2, int64_t(limit));
  while (s.step() == SQLITE_ROW) {
    CheckRow r;
    r.id = s.text_at(0);
    r.node = s.text_at(1);
    r.note = s.text_at(2);
    r.client_ip = s.text_at(3);
    r.user_agent = s.text_at(4);
    r.turn_username = s.text_at(5);
    r.expires_at = s.int_at(6);
    r.opened_at = s.int_at(7);
    if (!s.is_null(8)) r.finished_at = s.int_at(8);
    r.verdict = s.text_at(9);
    r.results = s.text_at(10);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace turnpike::ledger
