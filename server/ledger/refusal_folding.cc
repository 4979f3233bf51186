#include "ledger/refusal_folding.h"

#include <iterator>

namespace turnpike::ledger {

std::string RefusalFolding::key_of(const Refusal& e, std::string_view peer) {
  std::string key = e.client.ip().to_string();
  key += '\n';
  key += e.reason.view();
  key += '\n';
  key += e.username.view();
  key += '\n';
  key += peer;
  return key;
}

void RefusalFolding::remember(const std::string& key) {
  auto it = folds_.find(key);
  undo_.emplace_back(key, it == folds_.end() ? std::nullopt : std::optional<Fold>(it->second));
}

RefusalFolding::Action RefusalFolding::decide(const std::string& key, int64_t at_ms) {
  if (at_ms > latest_at_) latest_at_ = at_ms;
  if (auto it = folds_.find(key);
      it != folds_.end() && at_ms - it->second.window_start < kFoldWindowMs) {
    Fold& f = it->second;
    if (f.unwritten == 0) remember(key);  // its first change in this transaction
    ++f.unwritten;  // written with the commit, not one UPDATE per refusal
    if (at_ms > f.last_at) f.last_at = at_ms;
    return Action::Fold;
  }
  if (at_ms - window_.start >= 1000) window_ = Window{at_ms, 0};
  if (window_.rows >= rows_per_second_) {
    ++capped_;
    return Action::Capped;
  }
  return Action::NewRow;
}

void RefusalFolding::add_row(const std::string& key, int64_t row, int64_t at_ms) {
  remember(key);
  Fold& f = folds_[key];
  if (f.unwritten) retired_.push_back(f);  // its minute is over, its count still to be written
  f = Fold{row, at_ms, 0, at_ms};
  ++window_.rows;
}

uint64_t RefusalFolding::committed() {
  for (auto& [key, fold] : folds_) fold.unwritten = 0;
  retired_.clear();
  undo_.clear();
  committed_window_ = window_;
  if (folds_.size() > kForgetAbove) {
    // Keys whose minute is over fold nothing more: the next identical refusal makes a new row.
    std::erase_if(folds_, [&](const auto& kv) {
      return latest_at_ - kv.second.window_start >= kFoldWindowMs;
    });
  }
  const uint64_t n = capped_;
  capped_ = 0;
  return n;
}

void RefusalFolding::rolled_back() {
  for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
    if (it->second) {
      folds_[it->first] = *it->second;
    } else {
      folds_.erase(it->first);
    }
  }
  undo_.clear();
  retired_.clear();
  window_ = committed_window_;
  capped_ = 0;
}

void RefusalFolding::clear() {
  folds_.clear();
  undo_.clear();
  retired_.clear();
  window_ = committed_window_ = Window{};
  capped_ = 0;
}

}  // namespace turnpike::ledger
