#include "ledger/credential_log.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "ledger/migrations.h"
#include "ledger/sqlite_db.h"

namespace turnpike::ledger {

// Everything the writer thread touches. It is owned jointly by the CredentialLog and the thread,
// so a thread left running by close() never reaches freed memory.
struct CredentialLog::State {
  State(std::string p, Log l, size_t max) : path(std::move(p)), log(std::move(l)), max_pending(max) {}

  const std::string path;
  const Log log;
  const size_t max_pending;
  std::mutex mu;
  std::condition_variable cv;          // to the writer: records, flush, stop
  std::condition_variable written_cv;  // from the writer: progress, finished
  std::vector<IssuedCredential> queue;
  bool stopping = false;
  bool abandoned = false;  // close() stopped waiting: drop what is left, attempt nothing new
  bool finished = false;   // the writer thread has returned from run()
  CredentialLogStats stats;
  // The writer thread's own (no lock needed).
  std::optional<Database> db;
  bool failing = false;

  bool write(std::vector<IssuedCredential>& batch);
};

CredentialLog::CredentialLog(std::string path, Log log, size_t max_pending)
    : path_(path), state_(std::make_shared<State>(std::move(path), std::move(log), max_pending)) {
  thread_ = std::thread([state = state_] { run(state); });
}

CredentialLog::~CredentialLog() { close(); }

uint64_t CredentialLog::close(int timeout_ms) {
  if (!thread_.joinable()) return lost_at_close_;
  State& s = *state_;
  std::unique_lock lock(s.mu);
  s.stopping = true;
  s.cv.notify_all();
  if (s.written_cv.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                            [&] { return s.finished; })) {
    lock.unlock();
    thread_.join();
    return lost_at_close_ = 0;
  }
  // Locked or failing: the host program does not wait for it. The thread keeps its share of the
  // state, ends after its current attempt and counts what it drops.
  s.abandoned = true;
  lost_at_close_ = s.stats.recorded - s.stats.written - s.stats.dropped;
  lock.unlock();
  thread_.detach();
  return lost_at_close_;
}

void CredentialLog::record(IssuedCredential c) {
  State& s = *state_;
  {
    std::lock_guard lock(s.mu);
    ++s.stats.recorded;
    if (s.stopping || s.queue.size() >= s.max_pending) {
      ++s.stats.dropped;
      return;
    }
    s.queue.push_back(std::move(c));
  }
  s.cv.notify_one();
}

bool CredentialLog::flush(int timeout_ms) {
  State& s = *state_;
  std::unique_lock lock(s.mu);
  const uint64_t target = s.stats.recorded;
  s.cv.notify_one();
  return s.written_cv.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                               [&] { return s.stats.written + s.stats.dropped >= target; });
}

CredentialLogStats CredentialLog::stats() const {
  std::lock_guard lock(state_->mu);
  return state_->stats;
}

bool CredentialLog::State::write(std::vector<IssuedCredential>& batch) {
  std::string err;
  if (!db) db = open_for_writing(path, &err);
  if (db && db->exec("BEGIN IMMEDIATE", &err) == SQLITE_OK) {
    Statement ins = db->prepare(
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
      if (!ok) err = db->last_error();
    }
    ins = Statement();
    if (ok && db->exec("COMMIT", &err) == SQLITE_OK) {
      if (failing && log) log(false, "credential ledger " + path + " works again");
      failing = false;
      return true;
    }
    db->exec("ROLLBACK");
  }
  db.reset();
  if (!failing && log)
    log(true, "credential ledger " + path + ": " + err + "; credentials are still issued");
  failing = true;
  std::lock_guard lock(mu);
  stats.last_error = err;
  return false;
}

void CredentialLog::run(const std::shared_ptr<State>& state) {
  State& s = *state;
  std::vector<IssuedCredential> batch;
  int failures_at_stop = 0;
  while (true) {
    {
      std::unique_lock lock(s.mu);
      // Batch: wake on a new record, but give the batch 100 ms to fill.
      s.cv.wait_for(lock, std::chrono::milliseconds(s.failing ? 1000 : 100),
                    [&] { return s.stopping || s.queue.size() >= 256; });
      for (auto& c : s.queue) batch.push_back(std::move(c));
      s.queue.clear();
      if (s.abandoned) {
        s.stats.dropped += batch.size();
        batch.clear();
      }
      if (s.stopping && batch.empty()) break;
    }
    if (batch.empty()) continue;
    const bool written = s.write(batch);
    std::lock_guard lock(s.mu);
    if (written) {
      s.stats.written += batch.size();
      batch.clear();
    } else {
      if (batch.size() > s.max_pending) {
        s.stats.dropped += batch.size() - s.max_pending;
        batch.resize(s.max_pending);
      }
      if (s.stopping && ++failures_at_stop >= 3) {
        s.stats.dropped += batch.size();
        batch.clear();
      }
    }
    s.written_cv.notify_all();
  }
  s.db.reset();
  std::lock_guard lock(s.mu);
  s.finished = true;
  s.written_cv.notify_all();
}

}  // namespace turnpike::ledger
