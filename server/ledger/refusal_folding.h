// Which refusals get a row of their own. Identical refusals (same source address, reason, user
// and peer) within a minute fold into one row with a count, and new rows are capped per second:
// a flood of bad requests costs a few rows, not the disk. Pure logic: the writer asks decide(),
// inserts the row itself, and writes the folded counts at its commit.
//
// It follows the writer's transactions: what the transaction under way changed is undone by
// rolled_back(), so that its events, applied again, fold into the rows the database still has
// (and not into rows that were rolled back, nor into new rows of their own), and refusals capped
// in it are counted once, at the commit.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ledger/ledger_event.h"

namespace turnpike::ledger {

class RefusalFolding {
 public:
  static constexpr int64_t kFoldWindowMs = 60'000;  // identical refusals fold for a minute
  static constexpr size_t kForgetAbove = 20'000;    // keys kept past their minute, at most

  explicit RefusalFolding(unsigned new_rows_per_second) : rows_per_second_(new_rows_per_second) {}

  // What makes two refusals identical; `peer` is the text the row shows for the peer ("" for
  // none).
  static std::string key_of(const Refusal& e, std::string_view peer);

  enum class Action {
    Fold,    // counted into the row of an identical refusal (see for_each_unwritten)
    NewRow,  // the caller inserts a row and calls add_row
    Capped,  // this second's new rows are used up: counted only (committed() returns them)
  };
  Action decide(const std::string& key, int64_t at_ms);
  // The row inserted for a refusal decide() said NewRow to.
  void add_row(const std::string& key, int64_t row, int64_t at_ms);

  // The counts folded in the transaction under way, for the commit: f(row, last_at_ms, count).
  template <typename F>
  void for_each_unwritten(F&& f) const {
    for (const auto& [key, fold] : folds_) {
      if (fold.unwritten) f(fold.row, fold.last_at, fold.unwritten);
    }
    for (const Fold& fold : retired_) f(fold.row, fold.last_at, fold.unwritten);
  }
  // The transaction was committed; returns how many refusals were capped in it.
  uint64_t committed();
  // It was rolled back: rows it added are forgotten, its counts and its cap undone.
  void rolled_back();
  // The database was replaced by a fresh one: no row is known.
  void clear();

  size_t keys() const { return folds_.size(); }

 private:
  struct Fold {
    int64_t row = 0;           // the refusal row this key counts into
    int64_t window_start = 0;  // when the row was made
    int64_t unwritten = 0;     // folded in the transaction under way
    int64_t last_at = 0;
  };
  struct Window {  // the cap: new rows in the second that began at `start`
    int64_t start = 0;
    unsigned rows = 0;
  };
  void remember(const std::string& key);  // the key's state before this transaction changed it

  unsigned rows_per_second_;
  std::unordered_map<std::string, Fold> folds_;
  std::vector<std::pair<std::string, std::optional<Fold>>> undo_;  // newest last
  // Rows whose minute ended in this transaction with counts not yet written (a key's next
  // refusal made a new row).
  std::vector<Fold> retired_;
  Window window_, committed_window_;
  int64_t latest_at_ = 0;  // the newest refusal seen
  uint64_t capped_ = 0;    // in the transaction under way
};

}  // namespace turnpike::ledger
