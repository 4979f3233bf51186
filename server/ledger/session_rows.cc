#include "ledger/session_rows.h"

namespace turnpike::ledger {

void SessionRows::change(uint64_t sid, std::optional<int64_t> row) {
  auto it = rows_.find(sid);
  undo_.emplace_back(sid, it == rows_.end() ? std::nullopt : std::optional<int64_t>(it->second));
  if (row) {
    rows_[sid] = *row;
  } else if (it != rows_.end()) {
    rows_.erase(it);
  }
}

void SessionRows::rolled_back() {
  for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
    if (it->second) {
      rows_[it->first] = *it->second;
    } else {
      rows_.erase(it->first);
    }
  }
  undo_.clear();
}

}  // namespace turnpike::ledger
