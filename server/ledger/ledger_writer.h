// The relay's ledger writer: one thread that takes events from every worker's ring and writes
// them to SQLite in batched transactions. Workers never wait for it. When the queue is full, the
// database is locked, the disk is full or the file went read-only, relaying goes on: events wait
// in a bounded buffer, what does not fit is dropped and counted, the trouble is logged once, and
// writing resumes by itself when the database is usable again.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ledger/ledger_event.h"
#include "ledger/spsc_ring.h"
#include "ledger/sqlite_db.h"

namespace turnpike::ledger {

using EventRing = SpscRing<LedgerEvent, 1024>;

// One per worker: its ring and what it had to drop because the ring was full.
struct Producer {
  EventRing ring;
  std::atomic<uint64_t> dropped{0};

  // The worker side. Returns false (and counts the drop) when the ring is full, unless
  // `wait_for_room`, which spins until the writer makes room (used while shutting down only).
  bool push(const LedgerEvent& e, bool wait_for_room = false);
};

struct WriterOptions {
  std::string path;
  std::string node;
  std::string realm;
  unsigned retention_days = 0;           // 0: keep everything
  int flush_interval_ms = 500;           // how long events may gather before a commit
  int drain_interval_ms = 10;            // how often the rings are emptied (they hold 1024 events)
  size_t commit_batch = 8192;            // commit early when this many events are waiting
  size_t max_pending = 200'000;          // events held while the database is failing
  unsigned refusal_rows_per_second = 5;  // new refusal rows (identical ones are folded)
};

struct WriterStats {
  uint64_t written = 0;
  uint64_t dropped = 0;  // queue full + lost while the database failed
  uint64_t refusals_folded = 0;
  size_t pending = 0;
  bool database_ok = false;
  std::string last_error;
  double cpu_seconds = 0;  // CPU the writer thread has used (its own thread clock)
};

using LogFunction = std::function<void(bool error, const std::string& message)>;

class LedgerWriter {
 public:
  LedgerWriter(WriterOptions o, LogFunction log);
  ~LedgerWriter();

  // Before start(): one producer per worker.
  Producer& add_producer();
  void start();
  // Writes everything the producers have queued and closes the database. Call after every
  // worker has stopped producing.
  void stop();
  WriterStats stats() const;
  const std::string& boot() const { return boot_; }

 private:
  void run();
  bool ensure_open();
  void collect();
  bool write_pending();
  bool apply(const LedgerEvent& e);
  bool apply_session(const LedgerEvent& e);
  bool apply_peers(const LedgerEvent& e);
  bool apply_refusal(const LedgerEvent& e);
  bool write_health();
  void close_interrupted();
  void prune(int64_t now_ms);
  void failed(const std::string& what);
  void set_row(uint64_t sid, std::optional<int64_t> row);  // rows_, with undo for a rollback
  void rolled_back();

  WriterOptions o_;
  LogFunction log_;
  std::string boot_;
  std::vector<std::unique_ptr<Producer>> producers_;
  std::vector<LedgerEvent> pending_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::mutex wake_mu_;
  std::condition_variable wake_;

  std::optional<Database> db_;
  struct Statements;
  std::unique_ptr<Statements> st_;
  int64_t retry_at_ms_ = 0;
  int64_t last_prune_ms_ = 0;
  int64_t last_health_ms_ = 0;
  int64_t last_commit_ms_ = 0;
  bool failing_ = false;
  std::string failure_;
  std::unordered_map<uint64_t, int64_t> rows_;  // session id -> its row, while the session lasts
  std::vector<std::pair<uint64_t, std::optional<int64_t>>>
      rows_undo_;  // this transaction's changes
  struct Fold {
    int64_t row = 0;           // the refusal row this key counts into
    int64_t window_start = 0;  // identical refusals fold for a minute
    int64_t unwritten = 0;     // refusals folded since the last commit
    int64_t last_at = 0;
  };
  std::unordered_map<std::string, Fold> folds_;  // refusal key -> its row
  int64_t refusal_window_ms_ = 0;
  unsigned refusal_rows_in_window_ = 0;

  mutable std::mutex stats_mu_;
  WriterStats stats_;
  uint64_t queue_drops_seen_ = 0;
};

}  // namespace turnpike::ledger
