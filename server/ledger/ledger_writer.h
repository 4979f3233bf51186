// The relay's ledger writer: one thread that takes events from every worker's ring and writes
// them to SQLite in batched transactions. Workers never wait for it. When a ring is full, the
// database is locked, the disk is full or the file went read-only, relaying goes on: events wait
// in a buffer bounded in bytes, what does not fit is dropped and counted per kind of event, the
// trouble is logged once, and writing resumes by itself when the database is usable again. A
// damaged file (SQLite says corrupt, or not a database) is not retried: the writer says what to
// do and records again once the file has been replaced.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
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
#include "ledger/record_buffer.h"
#include "ledger/record_ring.h"
#include "ledger/sqlite_db.h"

namespace turnpike::ledger {

// One per worker, used by that worker's thread only (the writer drains its ring): the ring, a
// backlog for bursts the ring cannot take at once (a mass expiry, a shutdown), and what had to
// be dropped, per kind.
class Producer {
 public:
  // Sized for 100,000 allocations on one worker with the default settings: a progress tick
  // hands over a thirtieth of them (about 3,400 updates and as many peer records, ~0.5 MB) and
  // the writer empties the ring every 10 ms. The pages are touched only when used.
  static constexpr size_t kRingBytes = size_t(2) << 20;
  // Allocated only while a burst is larger than the ring; freed once it has gone through.
  static constexpr size_t kBacklogBytes = size_t(16) << 20;

  explicit Producer(size_t ring_bytes = kRingBytes, size_t backlog_bytes = kBacklogBytes)
      : ring(ring_bytes), backlog_max_(backlog_bytes) {}

  // Never waits: the event goes to the ring, or behind what waits in the backlog; it is dropped
  // (and counted) only when both are full. Returns false when dropped.
  template <typename E>
  bool push(const E& e) {
    static_assert(kIsEvent<E>);
    return push_bytes(&e, e.size(), E::kKind);
  }
  bool push(const LedgerEvent& e) {
    return std::visit([this](const auto& x) { return push(x); }, e);
  }
  // While shutting down: waits for the writer to make room, but only until `deadline`, one
  // deadline for all the pushes of a shutdown so that the total wait is bounded; then as push().
  template <typename E>
  bool push_until(const E& e, std::chrono::steady_clock::time_point deadline) {
    static_assert(kIsEvent<E>);
    return push_waiting(&e, e.size(), E::kKind, deadline);
  }
  // Moves what the backlog holds into the ring, as far as there is room. The worker calls it
  // every tick; the writer calls it once the workers have stopped.
  void flush();

  uint64_t dropped(EventKind k) const {
    return dropped_[size_t(k)].load(std::memory_order_relaxed);
  }
  uint64_t dropped_total() const;
  size_t backlog_bytes() const { return backlog_.size() - backlog_head_; }

  RecordRing ring;

 private:
  bool push_bytes(const void* e, size_t size, EventKind kind);
  bool push_waiting(const void* e, size_t size, EventKind kind,
                    std::chrono::steady_clock::time_point deadline);
  bool backlog_empty() const { return backlog_head_ == backlog_.size(); }

  std::array<std::atomic<uint64_t>, kEventKinds> dropped_{};
  std::vector<std::byte> backlog_;  // records in the ring's format, oldest at backlog_head_
  size_t backlog_head_ = 0;
  size_t backlog_max_;
};

struct WriterOptions {
  std::string path;
  std::string node;
  std::string realm;
  unsigned retention_days = 0;  // 0: keep everything
  int flush_interval_ms = 500;  // how long events may gather before a commit
  int drain_interval_ms = 10;   // how often the rings are emptied
  size_t commit_batch = 8192;   // commit early when this many events are waiting
  size_t ring_bytes = Producer::kRingBytes;  // per producer
  size_t backlog_bytes = Producer::kBacklogBytes;
  // Events held while the database is failing: a bound in bytes (memory), and optionally one
  // in events (0: none).
  size_t max_pending_bytes = size_t(64) << 20;
  size_t max_pending = 0;
  unsigned refusal_rows_per_second = 5;  // new refusal rows (identical ones are folded)
  // Called on the writer thread with every event taken from the rings, before it is written
  // (also while the database fails). Must not block for long: the rings fill meanwhile.
  std::function<void(const LedgerEvent&)> on_event;
};

struct WriterStats {
  uint64_t written = 0;
  uint64_t dropped = 0;  // the sum of dropped_by_kind
  // Lost, by kind of event: a worker's ring and backlog full, the buffer full while the
  // database failed, records SQLite refused, the ledger damaged, given up at stop.
  std::array<uint64_t, kEventKinds> dropped_by_kind{};
  uint64_t refusals_folded = 0;
  size_t pending = 0;
  size_t pending_bytes = 0;
  bool database_ok = false;
  bool damaged = false;  // corrupt or not a database: nothing is written until it is replaced
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
  void take(const RecordHeader& h, const std::byte* record);
  bool write_pending();
  bool apply(const LedgerEvent& e);
  bool apply_start(const SessionStart& e);
  bool apply_update(const SessionUpdate& e);
  bool apply_end(const SessionEnd& e);
  bool apply_peers(const SessionPeers& e);
  bool apply_refusal(const Refusal& e);
  bool write_health();
  void close_interrupted();
  void prune_step(int64_t now_ms);
  void failed(const std::string& what, int rc);
  void set_damaged(const std::string& what);
  void check_replaced(int64_t now_ms);
  void drop(EventKind k, uint64_t n = 1);
  void drop_pending();
  void report_drops(int64_t now_ms);
  void set_row(uint64_t sid, std::optional<int64_t> row);  // rows_, with undo for a rollback
  void rolled_back();

  WriterOptions o_;
  LogFunction log_;
  std::string boot_;
  std::vector<std::unique_ptr<Producer>> producers_;
  RecordBuffer pending_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::mutex wake_mu_;
  std::condition_variable wake_;

  std::optional<Database> db_;
  struct Statements;
  std::unique_ptr<Statements> st_;
  int64_t retry_at_ms_ = 0;
  int64_t last_health_ms_ = 0;
  int64_t last_commit_ms_ = 0;
  bool failing_ = false;
  std::string failure_;
  // Damaged: the identities (device, inode) of the file and its WAL when it was found damaged;
  // writing starts again when the file at the path is another one.
  struct FileId {
    bool exists = false;
    uint64_t dev = 0, ino = 0;
    friend bool operator==(const FileId&, const FileId&) = default;
  };
  bool damaged_ = false;
  FileId damaged_file_, damaged_wal_;
  int64_t next_replace_check_ms_ = 0;
  bool told_about_wal_ = false;
  // Retention: one chunk of old rows per pass through the loop, so deleting never holds the
  // write lock (or the writer) for long.
  int64_t next_prune_ms_ = 0;
  int prune_table_ = -1;  // -1: no prune under way; else the table being pruned
  int64_t prune_cutoff_ms_ = 0;
  // Drops: counts at the start of the current episode (as last reported), and as last seen.
  std::array<uint64_t, kEventKinds> drops_reported_{};
  std::array<uint64_t, kEventKinds> drops_seen_{};
  int64_t drops_changed_ms_ = 0;
  bool dropping_ = false;
  uint64_t worker_drops_seen_ = 0;
  const char* drop_cause_ = "";  // why the writer itself last dropped

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
  WriterStats stats_;  // the writer's own drops; stats() adds the producers'
};

}  // namespace turnpike::ledger
