#include "ledger/credential_counter.h"

#include <utility>

namespace turnpike::ledger {

uint64_t CredentialCounter::total() {
  if (!db_) {
    std::string error;
    db_ = Database::open(path_, Database::Mode::ReadOnly, 200, &error);
    if (!db_) return total_;
  }
  Statement s = db_->prepare("SELECT count(*), max(id) FROM credentials WHERE id > ?1");
  if (!s) {
    db_.reset();  // no table yet (a fresh ledger), or the file was replaced: open again next time
    return total_;
  }
  s.bind(1, last_id_);
  if (s.step() != SQLITE_ROW) {
    db_.reset();
    return total_;
  }
  total_ += uint64_t(s.int_at(0));
  if (!s.is_null(1)) last_id_ = s.int_at(1);
  return total_;
}

}  // namespace turnpike::ledger
