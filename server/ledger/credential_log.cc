#include "ledger/credential_log.h"

#include <chrono>
#include <utility>

#include "ledger/migrations.h"

namespace turnpike::ledger {

CredentialLog::CredentialLog(std::string path, Log log, size_t max_pending)
    : path_(std::move(path)), log_(std::move(log)), max_pending_(max_pending) {
  thread_ = std::thread([this] { run(); });
}

CredentialLog::~CredentialLog() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void CredentialLog::record(IssuedCredential c) {
  {
    std::lock_guard lock(mu_);
    ++stats_.recorded;
    if (queue_.size() >= max_pending_) {
      ++stats_.dropped;
      return;
    }
    queue_.push_back(std::move(c));
  }
  cv_.notify_one();
}

bool CredentialLog::flush(int timeout_ms) {
  std::unique_lock lock(mu_);
  const uint64_t target = stats_.recorded;
  cv_.notify_one();
  return written_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                              [&] { return stats_.written + stats_.dropped >= target; });
}

CredentialLogStats CredentialLog::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

bool CredentialLog::write(std::vector<IssuedCredential>& batch) {
  std::string err;
  if (!db_) db_ = open_for_writing(path_, &err);
  if (db_ && db_->exec("BEGIN IMMEDIATE", &err) == SQLITE_OK) {
    Statement ins = db_->prepare(
        "INSERT INTO credentials (issued_at, host, jid, username, expires_at) VALUES (?1, ?2, ?3, "
        "?4, ?5)",
        &err);
    bool ok = bool(ins);
    for (const auto& c : batch) {
      if (!ok) break;
      ins.reset();
      ins.bind(1, c.issued_ms)
          .bind(2, c.host)
          .bind(3, c.jid)
          .bind(4, c.username)
          .bind(5, c.expires_s * 1000);
      ok = ins.step() == SQLITE_DONE;
      if (!ok) err = db_->last_error();
    }
    ins = Statement();
    if (ok && db_->exec("COMMIT", &err) == SQLITE_OK) {
      if (failing_ && log_) log_(false, "credential ledger " + path_ + " works again");
      failing_ = false;
      return true;
    }
    db_->exec("ROLLBACK");
  }
  db_.reset();
  if (!failing_ && log_)
    log_(true, "credential ledger " + path_ + ": " + err + "; credentials are still issued");
  failing_ = true;
  std::lock_guard lock(mu_);
  stats_.last_error = err;
  return false;
}

void CredentialLog::run() {
  std::vector<IssuedCredential> batch;
  int failures_at_stop = 0;
  while (true) {
    {
      std::unique_lock lock(mu_);
      // Batch: wake on a new record, but give the batch 100 ms to fill.
      cv_.wait_for(lock, std::chrono::milliseconds(failing_ ? 1000 : 100),
                   [&] { return stopping_ || queue_.size() >= 256; });
      for (auto& c : queue_) batch.push_back(std::move(c));
      queue_.clear();
      if (stopping_ && batch.empty()) break;
    }
    if (batch.empty()) continue;
    if (write(batch)) {
      std::lock_guard lock(mu_);
      stats_.written += batch.size();
      batch.clear();
      written_cv_.notify_all();
    } else {
      std::lock_guard lock(mu_);
      if (batch.size() > max_pending_) {
        stats_.dropped += batch.size() - max_pending_;
        batch.resize(max_pending_);
      }
      if (stopping_ && ++failures_at_stop >= 3) {
        stats_.dropped += batch.size();
        batch.clear();
        written_cv_.notify_all();
        break;
      }
    }
  }
  db_.reset();
}

}  // namespace turnpike::ledger
