#include "ledger/ledger_writer.h"

#include <arpa/inet.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <string_view>

#include "core/random.h"
#include "ledger/migrations.h"

namespace turnpike::ledger {
namespace {

int64_t wall_ms() {
  timespec t{};
  clock_gettime(CLOCK_REALTIME, &t);
  return int64_t(t.tv_sec) * 1000 + t.tv_nsec / 1'000'000;
}

// Failures that go away by themselves (the disk frees up, the lock is released, the file system
// comes back read-write): the events wait and are retried. Anything else is a bad event.
bool transient(int rc) {
  switch (rc & 0xFF) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
    case SQLITE_NOMEM:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return true;
    default:
      return false;
  }
}

}  // namespace

bool Producer::push(const LedgerEvent& e, bool wait_for_room) {
  LedgerEvent* slot = ring.reserve();
  if (!slot && wait_for_room) {
    // Shutdown only: the writer is draining; give it up to five seconds.
    for (int i = 0; i < 5000 && !slot; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      slot = ring.reserve();
    }
  }
  if (!slot) {
    dropped.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  *slot = e;
  ring.publish();
  return true;
}

struct LedgerWriter::Statements {
  Statement insert_session;  // a start, the common case: plain INSERT, row id from SQLite
  Statement update_session;  // an update or end of a session whose row is known
  Statement full_session;    // an update or end whose start was lost (dropped): the whole row
  Statement upsert_peer;
  Statement insert_refusal;
  Statement fold_refusal;
  Statement upsert_health;
};

LedgerWriter::LedgerWriter(WriterOptions o, LogFunction log)
    : o_(std::move(o)), log_(std::move(log)) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(core::random_u64()));
  boot_ = buf;
}

LedgerWriter::~LedgerWriter() {
  stop();
}

Producer& LedgerWriter::add_producer() {
  producers_.push_back(std::make_unique<Producer>());
  return *producers_.back();
}

void LedgerWriter::start() {
  thread_ = std::thread([this] { run(); });
}

void LedgerWriter::stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  wake_.notify_all();
  thread_.join();
}

WriterStats LedgerWriter::stats() const {
  std::lock_guard lock(stats_mu_);
  WriterStats s = stats_;
  for (const auto& p : producers_) s.dropped += p->dropped.load(std::memory_order_relaxed);
  return s;
}

void LedgerWriter::failed(const std::string& what) {
  if (!failing_ || what != failure_) {
    log_(true, "ledger " + o_.path + ": " + what +
                   "; relaying continues, events wait in memory and are written when the ledger "
                   "works again");
  }
  failing_ = true;
  failure_ = what;
  {
    std::lock_guard lock(stats_mu_);
    stats_.database_ok = false;
    stats_.last_error = what;
  }
  // Start again from a fresh connection: after an I/O error the old one may stay broken.
  st_.reset();
  db_.reset();
  retry_at_ms_ = wall_ms() + 1000;
}

bool LedgerWriter::ensure_open() {
  if (db_) return true;
  std::string err;
  db_ = open_for_writing(o_.path, &err);
  if (!db_) {
    failed(err);
    return false;
  }
  auto st = std::make_unique<Statements>();
  st->full_session = db_->prepare(
      "INSERT INTO sessions (node, boot, sid, realm, username, transport, client_ip, client_port,"
      " relay_ip, relay_port, relay6_ip, relay6_port, started_at, updated_at, ended_at, end_reason,"
      " bytes_from_client, packets_from_client, bytes_to_client, packets_to_client)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, "
      "?19, ?20)",
      &err);
  st->insert_session = db_->prepare(
      "INSERT INTO sessions (node, boot, sid, realm, username, transport, client_ip, client_port,"
      " relay_ip, relay_port, relay6_ip, relay6_port, started_at, updated_at)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
      &err);
  st->update_session = db_->prepare(
      "UPDATE sessions SET updated_at = ?2, ended_at = ?3, end_reason = ?4, bytes_from_client = ?5,"
      " packets_from_client = ?6, bytes_to_client = ?7, packets_to_client = ?8 WHERE id = ?1",
      &err);
  st->upsert_peer = db_->prepare(
      "INSERT INTO session_peers (session_id, peer_ip, bytes_to_peer, packets_to_peer, "
      "bytes_from_peer,"
      " packets_from_peer) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
      " ON CONFLICT (session_id, peer_ip) DO UPDATE SET bytes_to_peer = excluded.bytes_to_peer,"
      " packets_to_peer = excluded.packets_to_peer, bytes_from_peer = excluded.bytes_from_peer,"
      " packets_from_peer = excluded.packets_from_peer",
      &err);
  st->insert_refusal = db_->prepare(
      "INSERT INTO refusals (at, last_at, node, client_ip, client_port, transport, method, code, "
      "reason,"
      " username, peer, detail) VALUES (?1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
      "RETURNING id",
      &err);
  st->fold_refusal =
      db_->prepare("UPDATE refusals SET count = count + ?3, last_at = ?2 WHERE id = ?1", &err);
  st->upsert_health = db_->prepare(
      "INSERT INTO ledger_health (node, boot, updated_at, events_written, events_dropped, "
      "refusals_folded,"
      " last_error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
      " ON CONFLICT (node) DO UPDATE SET boot = excluded.boot, updated_at = excluded.updated_at,"
      " events_written = excluded.events_written, events_dropped = excluded.events_dropped,"
      " refusals_folded = excluded.refusals_folded, last_error = excluded.last_error",
      &err);
  if (!st->insert_session || !st->update_session || !st->full_session || !st->upsert_peer ||
      !st->insert_refusal || !st->fold_refusal || !st->upsert_health) {
    failed("cannot prepare statements: " + err);
    return false;
  }
  st_ = std::move(st);
  close_interrupted();
  prune(wall_ms());
  {
    std::lock_guard lock(stats_mu_);
    stats_.database_ok = true;
  }
  return true;
}

void LedgerWriter::close_interrupted() {
  // A previous run of this node that did not stop cleanly (kill -9, power loss) left sessions
  // open: they ended at their last update, as "interrupted".
  Statement s = db_->prepare(
      "UPDATE sessions SET ended_at = updated_at, end_reason = 'interrupted'"
      " WHERE node = ?1 AND boot <> ?2 AND ended_at IS NULL");
  if (!s) return;
  s.bind(1, o_.node).bind(2, boot_);
  if (s.step() == SQLITE_DONE) {
    const int n = sqlite3_changes(db_->get());
    if (n > 0) {
      log_(false, "ledger: " + std::to_string(n) +
                      " session(s) left open by an earlier run closed as interrupted");
    }
  }
}

void LedgerWriter::prune(int64_t now_ms) {
  if (o_.retention_days == 0 || now_ms - last_prune_ms_ < 3'600'000) return;
  last_prune_ms_ = now_ms;
  const int64_t cutoff = now_ms - int64_t(o_.retention_days) * 86'400'000;
  for (const char* sql : {"DELETE FROM sessions WHERE ended_at IS NOT NULL AND ended_at < ?1",
                          "DELETE FROM refusals WHERE last_at < ?1",
                          "DELETE FROM credentials WHERE issued_at < ?1"}) {
    Statement s = db_->prepare(sql);
    if (!s) continue;
    s.bind(1, cutoff);
    s.step();
  }
}

void LedgerWriter::collect() {
  for (auto& p : producers_) {
    p->ring.drain([&](const LedgerEvent& e) {
      if (pending_.size() < o_.max_pending) {
        pending_.push_back(e);
      } else {
        std::lock_guard lock(stats_mu_);
        ++stats_.dropped;
      }
    });
  }
  uint64_t queue_drops = 0;
  for (auto& p : producers_) queue_drops += p->dropped.load(std::memory_order_relaxed);
  if (queue_drops > queue_drops_seen_) {
    if (queue_drops_seen_ == 0) {
      log_(true, "ledger queue full: events are being dropped (and counted); relaying continues");
    }
    queue_drops_seen_ = queue_drops;
  }
  std::lock_guard lock(stats_mu_);
  stats_.pending = pending_.size();
}

void LedgerWriter::set_row(uint64_t sid, std::optional<int64_t> row) {
  auto it = rows_.find(sid);
  rows_undo_.emplace_back(sid,
                          it == rows_.end() ? std::nullopt : std::optional<int64_t>(it->second));
  if (row) {
    rows_[sid] = *row;
  } else if (it != rows_.end()) {
    rows_.erase(it);
  }
}

void LedgerWriter::rolled_back() {
  // Undo this transaction's changes to the row map, newest first: its events are applied again
  // on the next attempt.
  for (auto it = rows_undo_.rbegin(); it != rows_undo_.rend(); ++it) {
    if (it->second) {
      rows_[it->first] = *it->second;
    } else {
      rows_.erase(it->first);
    }
  }
  rows_undo_.clear();
  folds_.clear();  // refusal rows made in the rolled back transaction are gone; counts start over
}

namespace {

// Text forms of an event's values, in buffers that outlive the statement step (bound without
// copying).
struct SessionText {
  char sid[17];
  char client[core::IpAddress::kMaxText];
  char relay[core::IpAddress::kMaxText];
  char relay6[core::IpAddress::kMaxText];

  explicit SessionText(const LedgerEvent& e) {
    static const char kHex[] = "0123456789abcdef";
    for (int i = 0; i < 16; ++i) sid[i] = kHex[(e.sid >> (60 - 4 * i)) & 0xF];
    sid[16] = '\0';
    ip(e.client.ip(), client);
    relay[0] = relay6[0] = '\0';
    if (e.has_relay) ip(e.relay.ip(), relay);
    if (e.has_relay6) ip(e.relay6.ip(), relay6);
  }
  static void ip(const core::IpAddress& a, char* out) { a.format(out); }
};

}  // namespace

bool LedgerWriter::apply_session(const LedgerEvent& e) {
  const SessionText text(e);
  const bool end = e.kind == EventKind::SessionEnd;
  // Updates and ends of a session whose row this run wrote: an UPDATE by row id.
  if (e.kind != EventKind::SessionStart) {
    if (auto it = rows_.find(e.sid); it != rows_.end()) {
      Statement& u = st_->update_session;
      u.reset();
      u.bind(1, it->second).bind(2, e.at_ms);
      if (end) {
        u.bind(3, e.at_ms).bind_static(4, e.end_reason.view());
      } else {
        u.bind_null(3).bind_null(4);
      }
      u.bind(5, int64_t(e.bytes_from_client)).bind(6, int64_t(e.packets_from_client));
      u.bind(7, int64_t(e.bytes_to_client)).bind(8, int64_t(e.packets_to_client));
      if (u.step() != SQLITE_DONE) return false;
      u.reset();
      if (end) set_row(e.sid, std::nullopt);
      return true;
    }
  }
  // A start is a plain INSERT; an update or end whose start was lost is an upsert of the whole
  // row (so a dropped start costs nothing but the start time's precision).
  Statement& s = e.kind == EventKind::SessionStart ? st_->insert_session : st_->full_session;
  s.reset();
  s.bind_static(1, o_.node).bind_static(2, boot_).bind_static(3, text.sid).bind_static(4, o_.realm);
  s.bind_static(5, e.username.view()).bind_static(6, e.transport.view());
  s.bind_static(7, text.client).bind(8, int64_t(e.client.port()));
  if (e.has_relay) {
    s.bind_static(9, text.relay).bind(10, int64_t(e.relay.port()));
  } else {
    s.bind_null(9).bind_null(10);
  }
  if (e.has_relay6) {
    s.bind_static(11, text.relay6).bind(12, int64_t(e.relay6.port()));
  } else {
    s.bind_null(11).bind_null(12);
  }
  s.bind(13, e.started_ms).bind(14, e.at_ms);
  if (e.kind == EventKind::SessionStart) {
    const int rc = s.step();
    s.reset();
    if (rc != SQLITE_DONE) return false;
    set_row(e.sid, sqlite3_last_insert_rowid(db_->get()));
    return true;
  }
  if (end) {
    s.bind(15, e.at_ms).bind_static(16, e.end_reason.view());
  } else {
    s.bind_null(15).bind_null(16);
  }
  s.bind(17, int64_t(e.bytes_from_client)).bind(18, int64_t(e.packets_from_client));
  s.bind(19, int64_t(e.bytes_to_client)).bind(20, int64_t(e.packets_to_client));
  const int rc = s.step();
  s.reset();
  if (rc != SQLITE_DONE) return false;
  if (!end) set_row(e.sid, sqlite3_last_insert_rowid(db_->get()));
  return true;
}

bool LedgerWriter::apply_peers(const LedgerEvent& e) {
  auto found = rows_.find(e.sid);
  if (found == rows_.end()) return true;  // its session's start was dropped: nothing to attach to
  const int64_t row = found->second;
  Statement& s = st_->upsert_peer;
  for (uint8_t i = 0; i < e.peer_count && i < LedgerEvent::kMaxPeers; ++i) {
    const PeerTraffic& p = e.peers[i];
    s.reset();
    char peer[core::IpAddress::kMaxText];
    const size_t n = p.peer.format(peer);
    s.bind(1, row).bind_static(2, std::string_view(peer, n)).bind(3, int64_t(p.bytes_to_peer));
    s.bind(4, int64_t(p.packets_to_peer));
    s.bind(5, int64_t(p.bytes_from_peer)).bind(6, int64_t(p.packets_from_peer));
    if (s.step() != SQLITE_DONE) return false;
  }
  return true;
}

bool LedgerWriter::apply_refusal(const LedgerEvent& e) {
  // Identical refusals (same source address, reason, user and peer) within a minute fold into
  // one row with a count, and new rows are capped per second: a flood of bad requests costs a
  // few rows, not the disk.
  const std::string peer =
      e.has_peer ? (e.peer.port() ? e.peer.to_string() : e.peer.ip().to_string()) : "";
  std::string key = e.client.ip().to_string();
  key += '\n';
  key += e.reason.view();
  key += '\n';
  key += e.username.view();
  key += '\n';
  key += peer;
  if (auto it = folds_.find(key);
      it != folds_.end() && e.at_ms - it->second.window_start < 60'000) {
    ++it->second.unwritten;  // written with the commit (write_pending), not one UPDATE each
    it->second.last_at = std::max(it->second.last_at, e.at_ms);
    return true;
  }
  if (e.at_ms - refusal_window_ms_ >= 1000) {
    refusal_window_ms_ = e.at_ms;
    refusal_rows_in_window_ = 0;
  }
  if (refusal_rows_in_window_ >= o_.refusal_rows_per_second) {
    std::lock_guard lock(stats_mu_);
    ++stats_.refusals_folded;
    return true;
  }
  ++refusal_rows_in_window_;
  Statement& s = st_->insert_refusal;
  s.reset();
  s.bind(1, e.at_ms)
      .bind(2, o_.node)
      .bind(3, e.client.ip().to_string())
      .bind(4, int64_t(e.client.port()));
  s.bind(5, e.transport.view())
      .bind(6, e.method.view())
      .bind(7, int64_t(e.code))
      .bind(8, e.reason.view());
  s.bind(9, e.username.view());
  if (e.has_peer) {
    s.bind(10, peer);
  } else {
    s.bind_null(10);
  }
  s.bind(11, e.detail.view());
  if (s.step() != SQLITE_ROW) return false;
  const int64_t row = s.int_at(0);
  s.reset();
  if (folds_.size() > 20'000) {
    std::erase_if(folds_, [&](const auto& kv) {
      return kv.second.unwritten == 0 && e.at_ms - kv.second.window_start >= 60'000;
    });
  }
  folds_[key] = Fold{row, e.at_ms, 0, e.at_ms};
  return true;
}

bool LedgerWriter::apply(const LedgerEvent& e) {
  switch (e.kind) {
    case EventKind::SessionStart:
    case EventKind::SessionUpdate:
    case EventKind::SessionEnd:
      return apply_session(e);
    case EventKind::SessionPeers:
      return apply_peers(e);
    case EventKind::Refusal:
      return apply_refusal(e);
  }
  return true;
}

bool LedgerWriter::write_health() {
  WriterStats s = stats();
  Statement& h = st_->upsert_health;
  h.reset();
  h.bind(1, o_.node)
      .bind(2, boot_)
      .bind(3, wall_ms())
      .bind(4, int64_t(s.written))
      .bind(5, int64_t(s.dropped));
  h.bind(6, int64_t(s.refusals_folded));
  if (s.last_error.empty()) {
    h.bind_null(7);
  } else {
    h.bind(7, s.last_error);
  }
  return h.step() == SQLITE_DONE;
}

bool LedgerWriter::write_pending() {
  std::string err;
  if (int rc = db_->exec("BEGIN IMMEDIATE", &err); rc != SQLITE_OK) {
    failed("cannot start a transaction: " + err);
    return false;
  }
  rows_undo_.clear();
  size_t bad = 0;
  for (const LedgerEvent& e : pending_) {
    if (apply(e)) continue;
    const int rc = sqlite3_extended_errcode(db_->get());
    if (transient(rc)) {
      const std::string what = db_->last_error();
      db_->exec("ROLLBACK");
      rolled_back();
      failed(what);
      return false;
    }
    ++bad;  // a record SQLite refuses for good: skip it, keep the rest
  }
  // Identical refusals folded since the last commit: one UPDATE per row, not per refusal.
  for (auto& [key, f] : folds_) {
    if (f.unwritten == 0) continue;
    Statement& u = st_->fold_refusal;
    u.reset();
    u.bind(1, f.row).bind(2, f.last_at).bind(3, f.unwritten);
    if (u.step() != SQLITE_DONE) {
      const std::string what = db_->last_error();
      db_->exec("ROLLBACK");
      rolled_back();
      failed(what);
      return false;
    }
    f.unwritten = 0;
  }
  const int64_t now = wall_ms();
  const bool health_due = now - last_health_ms_ >= 5000;
  if (health_due) write_health();
  if (int rc = db_->exec("COMMIT", &err); rc != SQLITE_OK) {
    db_->exec("ROLLBACK");
    rolled_back();
    failed("cannot commit: " + err);
    return false;
  }
  if (health_due) last_health_ms_ = now;
  {
    std::lock_guard lock(stats_mu_);
    stats_.written += pending_.size() - bad;
    stats_.dropped += bad;
    stats_.database_ok = true;
    stats_.last_error.clear();
    stats_.pending = 0;
  }
  if (bad)
    log_(true, "ledger: " + std::to_string(bad) + " event(s) refused by SQLite were skipped");
  if (failing_) {
    log_(false, "ledger " + o_.path + " works again; writing resumed");
    failing_ = false;
    failure_.clear();
  }
  pending_.clear();
  prune(now);
  return true;
}

void LedgerWriter::run() {
  int64_t give_up_at = 0;
  while (true) {
    // The rings are emptied often (they are small and the workers never wait); the database is
    // written less often, in big transactions: most of the cost of a commit is per transaction
    // and per page, not per row.
    collect();
    const int64_t now = wall_ms();
    const bool due = now - last_commit_ms_ >= o_.flush_interval_ms ||
                     pending_.size() >= o_.commit_batch || stopping_;
    if (due && (!pending_.empty() || now - last_health_ms_ >= 5000) && now >= retry_at_ms_ &&
        ensure_open()) {
      write_pending();
      last_commit_ms_ = now;
    }
    if (stopping_) {
      size_t queued = 0;
      for (auto& p : producers_) queued += p->ring.size();
      if (queued == 0 && pending_.empty()) break;
      // The database is failing at shutdown: try for a little while, then report the loss.
      if (give_up_at == 0) give_up_at = now + 3000;
      if (now >= give_up_at) {
        std::lock_guard lock(stats_mu_);
        stats_.dropped += pending_.size();
        log_(true, "ledger: stopping with " + std::to_string(pending_.size()) +
                       " event(s) unwritten because the ledger is failing: " + failure_);
        pending_.clear();
        break;
      }
    }
    {
      timespec cpu{};
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
      std::lock_guard lock(stats_mu_);
      stats_.cpu_seconds = double(cpu.tv_sec) + double(cpu.tv_nsec) / 1e9;
    }
    std::unique_lock lock(wake_mu_);
    wake_.wait_for(lock, std::chrono::milliseconds(o_.drain_interval_ms));
  }
  if (db_ && st_) {
    if (db_->exec("BEGIN IMMEDIATE") == SQLITE_OK) {
      write_health();
      db_->exec("COMMIT");
    }
  }
  st_.reset();
  db_.reset();
  timespec cpu{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
  std::lock_guard lock(stats_mu_);
  stats_.cpu_seconds = double(cpu.tv_sec) + double(cpu.tv_nsec) / 1e9;
}

}  // namespace turnpike::ledger
