// Which ledger row each open session of this run writes into (session id -> sessions.id), as
// the writer's transactions change it: a start adds a row, an end forgets it. The changes of
// the transaction under way are kept so that a rollback puts the map back as it was, and the
// events of that transaction, applied again, find the rows the database still has.
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

namespace turnpike::ledger {

class SessionRows {
 public:
  std::optional<int64_t> find(uint64_t sid) const {
    auto it = rows_.find(sid);
    if (it == rows_.end()) return std::nullopt;
    return it->second;
  }
  // In the transaction under way: `sid` writes into `row` from now on / has no row any more.
  void set(uint64_t sid, int64_t row) { change(sid, row); }
  void erase(uint64_t sid) { change(sid, std::nullopt); }

  // The transaction under way was committed: its changes stay.
  void committed() { undo_.clear(); }
  // It was rolled back: its changes are undone, newest first.
  void rolled_back();
  // The database is gone (a damaged file is replaced by a fresh one): no session has a row.
  void clear() {
    rows_.clear();
    undo_.clear();
  }
  size_t size() const { return rows_.size(); }

 private:
  void change(uint64_t sid, std::optional<int64_t> row);

  std::unordered_map<uint64_t, int64_t> rows_;
  std::vector<std::pair<uint64_t, std::optional<int64_t>>> undo_;  // sid, its row before
};

}  // namespace turnpike::ledger
