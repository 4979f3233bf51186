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
#include <utility>
#include <vector>

#include "ledger/ledger_event.h"
#include "ledger/producer.h"
#include "ledger/record_buffer.h"
#include "ledger/refusal_folding.h"
#include "ledger/session_rows.h"
#include "ledger/sqlite_db.h"

namespace turnpike::ledger {

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
  // The run id to write under (16 hex digits). Empty: a new random one. A process that took
  // over from another (DESIGN.md "Restart and upgrade") goes on with the old one's, and the
  // sessions it took over keep writing into the rows the old one opened.
  std::string boot;
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
  void adopt_open_rows();
  void prune_step(int64_t now_ms);
  void failed(const std::string& what, int rc);
  void set_damaged(const std::string& what);
  void check_replaced(int64_t now_ms);
  void drop(EventKind k, uint64_t n = 1);
  void drop_pending();
  void report_drops(int64_t now_ms);
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

  SessionRows rows_;         // the row of each open session, with this transaction's undo
  RefusalFolding refusals_{o_.refusal_rows_per_second};  // refusal rows, their folded counts

  mutable std::mutex stats_mu_;
  WriterStats stats_;  // the writer's own drops; stats() adds the producers'
};

}  // namespace turnpike::ledger
