#include "ledger/ledger_writer.h"

#include <arpa/inet.h>
#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
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
// comes back read-write): the events wait and are retried. A damaged file (is_damaged) is not
// among them, nor is a record SQLite refuses (a bad event).
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
      return true;
    default:
      return false;
  }
}

// "start 3, end 1" for the kinds with a count.
std::string by_kind(const std::array<uint64_t, kEventKinds>& n) {
  std::string s;
  for (size_t k = 0; k < kEventKinds; ++k) {
    if (!n[k]) continue;
    if (!s.empty()) s += ", ";
    s += event_kind_name(EventKind(k));
    s += ' ';
    s += std::to_string(n[k]);
  }
  return s;
}

// Old rows are deleted in chunks of this many, each its own short transaction.
constexpr int kPruneChunk = 2000;
constexpr const char* kPruneSql[] = {
    "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE ended_at IS NOT NULL"
    " AND ended_at < ?1 LIMIT 2000)",
    "DELETE FROM refusals WHERE id IN (SELECT id FROM refusals WHERE last_at < ?1 LIMIT 2000)",
    "DELETE FROM credentials WHERE id IN (SELECT id FROM credentials WHERE issued_at < ?1"
    " LIMIT 2000)",
};

}  // namespace

// ---- The writer

struct LedgerWriter::Statements {
  Statement insert_session;  // a start, the common case: plain INSERT, row id from SQLite
  Statement update_session;  // an update or end of a session whose row is known
  Statement full_session;    // an end whose start was lost (dropped): the whole row
  Statement upsert_peer;
  Statement insert_refusal;
  Statement fold_refusal;
  Statement upsert_health;
};

LedgerWriter::LedgerWriter(WriterOptions o, LogFunction log)
    : o_(std::move(o)), log_(std::move(log)), pending_(o_.max_pending_bytes, o_.max_pending) {
  if (!o_.boot.empty()) {
    boot_ = o_.boot;
  } else {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(core::random_u64()));
    boot_ = buf;
  }
}

LedgerWriter::~LedgerWriter() {
  stop();
}

Producer& LedgerWriter::add_producer() {
  producers_.push_back(std::make_unique<Producer>(o_.ring_bytes, o_.backlog_bytes));
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
  for (const auto& p : producers_) {
    for (size_t k = 0; k < kEventKinds; ++k) s.dropped_by_kind[k] += p->dropped(EventKind(k));
  }
  s.dropped = 0;
  for (uint64_t n : s.dropped_by_kind) s.dropped += n;
  return s;
}

void LedgerWriter::drop(EventKind k, uint64_t n) {
  drop_cause_ = damaged_  ? "the ledger is damaged"
                : failing_ ? "the ledger cannot be written and the memory for waiting events is "
                             "full (ledger-max-pending-mb)"
                           : "more events waited than ledger-max-pending(-mb) allows";
  std::lock_guard lock(stats_mu_);
  stats_.dropped_by_kind[size_t(k)] += n;
}

void LedgerWriter::drop_pending() {
  std::array<uint64_t, kEventKinds> n{};
  pending_.for_each([&](const RecordHeader& h, const std::byte*) {
    if (h.kind < kEventKinds) ++n[h.kind];
  });
  pending_.clear();
  drop_cause_ = damaged_ ? "the ledger is damaged" : "the ledger failed while stopping";
  std::lock_guard lock(stats_mu_);
  for (size_t k = 0; k < kEventKinds; ++k) stats_.dropped_by_kind[k] += n[k];
  stats_.pending = 0;
  stats_.pending_bytes = 0;
}

void LedgerWriter::failed(const std::string& what, int rc) {
  if (is_damaged(rc)) {
    set_damaged(what);
    return;
  }
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

namespace {

// The (device, inode) of `path`, or "does not exist".
template <typename Id>
Id identify(const std::string& path) {
  struct stat st {};
  Id id;
  if (::stat(path.c_str(), &st) == 0) {
    id.exists = true;
    id.dev = uint64_t(st.st_dev);
    id.ino = uint64_t(st.st_ino);
  }
  return id;
}

}  // namespace

void LedgerWriter::set_damaged(const std::string& what) {
  // Retrying a corrupt file (or one that is not a database) forever would hold every event in
  // memory for nothing. Say once what to do, drop what waits and record again once the file at
  // the path has been replaced.
  st_.reset();
  db_.reset();
  damaged_ = true;
  failing_ = true;
  failure_ = what;
  damaged_file_ = identify<FileId>(o_.path);
  damaged_wal_ = identify<FileId>(o_.path + "-wal");
  told_about_wal_ = false;
  next_replace_check_ms_ = wall_ms() + 1000;
  rows_.clear();  // rows of the damaged file; a fresh file has none
  refusals_.clear();
  const std::string& p = o_.path;
  log_(true, "ledger " + p + " is damaged (" + what +
                 "): relaying goes on, but nothing is recorded (every event is counted as "
                 "dropped) until the file is replaced. Move it aside: mv " + p + " " + p +
                 ".damaged (and " + p + "-wal, " + p + "-shm, if there, to " + p +
                 ".damaged-wal, -shm); turnpike then starts a fresh ledger by itself. `sqlite3 " +
                 p + ".damaged .recover | sqlite3 recovered.db` salvages what it can");
  drop_pending();
  std::lock_guard lock(stats_mu_);
  stats_.database_ok = false;
  stats_.damaged = true;
  stats_.last_error = what;
}

void LedgerWriter::check_replaced(int64_t now_ms) {
  if (now_ms < next_replace_check_ms_) return;
  next_replace_check_ms_ = now_ms + 1000;
  if (identify<FileId>(o_.path) == damaged_file_) return;
  // A WAL left from the damaged file would be replayed into the new one: wait until it is gone.
  const FileId wal = identify<FileId>(o_.path + "-wal");
  if (wal.exists && wal == damaged_wal_) {
    if (!told_about_wal_) {
      log_(true, "ledger " + o_.path + " was replaced, but " + o_.path +
                     "-wal of the damaged file is still there: move it (and " + o_.path +
                     "-shm) aside too, then turnpike records again");
      told_about_wal_ = true;
    }
    return;
  }
  damaged_ = false;
  retry_at_ms_ = 0;
  {
    std::lock_guard lock(stats_mu_);
    stats_.damaged = false;
  }
  if (ensure_open()) log_(false, "ledger " + o_.path + " was replaced; recording again");
}

bool LedgerWriter::ensure_open() {
  if (db_) return true;
  std::string err;
  int rc = SQLITE_OK;
  db_ = open_for_writing(o_.path, &err, &rc);
  if (!db_) {
    failed(err, rc);
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
      "refusals_folded, last_error, dropped_starts, dropped_updates, dropped_ends, dropped_peers,"
      " dropped_refusals) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
      " ON CONFLICT (node) DO UPDATE SET boot = excluded.boot, updated_at = excluded.updated_at,"
      " events_written = excluded.events_written, events_dropped = excluded.events_dropped,"
      " refusals_folded = excluded.refusals_folded, last_error = excluded.last_error,"
      " dropped_starts = excluded.dropped_starts, dropped_updates = excluded.dropped_updates,"
      " dropped_ends = excluded.dropped_ends, dropped_peers = excluded.dropped_peers,"
      " dropped_refusals = excluded.dropped_refusals",
      &err);
  if (!st->insert_session || !st->update_session || !st->full_session || !st->upsert_peer ||
      !st->insert_refusal || !st->fold_refusal || !st->upsert_health) {
    failed("cannot prepare statements: " + err, db_->last_code());
    return false;
  }
  st_ = std::move(st);
  close_interrupted();
  adopt_open_rows();
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

void LedgerWriter::adopt_open_rows() {
  // A run taken over from another process (WriterOptions::boot): the sessions still open under
  // this run id are those handed over; their updates and ends go into those rows.
  if (o_.boot.empty()) return;
  Statement s = db_->prepare(
      "SELECT id, sid FROM sessions WHERE node = ?1 AND boot = ?2 AND ended_at IS NULL");
  if (!s) return;
  s.bind(1, o_.node).bind(2, boot_);
  size_t n = 0;
  while (s.step() == SQLITE_ROW) {
    const char* sid = reinterpret_cast<const char*>(sqlite3_column_text(s.get(), 1));
    if (!sid) continue;
    rows_.set(std::strtoull(sid, nullptr, 16), sqlite3_column_int64(s.get(), 0));
    ++n;
  }
  rows_.committed();
  if (n) {
    log_(false,
         "ledger: " + std::to_string(n) + " open session(s) of run " + boot_ + " taken over");
  }
}

void LedgerWriter::prune_step(int64_t now_ms) {
  if (o_.retention_days == 0 || !db_) return;
  if (prune_table_ < 0) {
    if (now_ms < next_prune_ms_) return;
    next_prune_ms_ = now_ms + 3'600'000;  // hourly
    prune_table_ = 0;
    prune_cutoff_ms_ = now_ms - int64_t(o_.retention_days) * 86'400'000;
  }
  // At most one full chunk (its own transaction, found by index: sessions_ended, refusals_last,
  // credentials_issued) per pass: the rings are drained and events written between chunks.
  while (prune_table_ >= 0) {
    Statement s = db_->prepare(kPruneSql[prune_table_]);
    if (!s) break;
    s.bind(1, prune_cutoff_ms_);
    if (s.step() != SQLITE_DONE) break;  // busy or failing: try again at the next hour
    if (sqlite3_changes(db_->get()) >= kPruneChunk) return;  // more of this table next pass
    if (++prune_table_ >= int(std::size(kPruneSql))) prune_table_ = -1;
  }
  prune_table_ = -1;
}

void LedgerWriter::take(const RecordHeader& h, const std::byte* record) {
  if (h.kind >= kEventKinds) return;  // padding never reaches here; nothing else is written
  if (o_.on_event) {
    LedgerEvent e;
    if (decode_event(h, record, e)) o_.on_event(e);
  }
  if (damaged_) {
    drop(EventKind(h.kind));
  } else if (!pending_.append(h, record)) {
    drop(EventKind(h.kind));
  }
}

void LedgerWriter::collect() {
  for (auto& p : producers_) {
    p->ring.drain([&](const RecordHeader& h, const std::byte* r) { take(h, r); });
  }
  std::lock_guard lock(stats_mu_);
  stats_.pending = pending_.size();
  stats_.pending_bytes = pending_.bytes();
}

void LedgerWriter::report_drops(int64_t now_ms) {
  // Once when drops begin, and once with their count when none have followed for 10 s: a full
  // queue during a burst is two lines, not one per event.
  const WriterStats s = stats();
  auto since_reported = [&] {
    std::array<uint64_t, kEventKinds> n{};
    for (size_t k = 0; k < kEventKinds; ++k) n[k] = s.dropped_by_kind[k] - drops_reported_[k];
    return n;
  };
  if (s.dropped_by_kind != drops_seen_) {
    uint64_t by_workers = 0;
    for (const auto& p : producers_) by_workers += p->dropped_total();
    if (!dropping_) {
      log_(true, "ledger: events are being dropped (" + by_kind(since_reported()) +
                     " so far; counted in turnpike-admin stats): " +
                     (by_workers > worker_drops_seen_
                          ? "a worker produced events faster than the writer took them"
                          : drop_cause_) +
                     "; relaying continues");
      dropping_ = true;
    }
    worker_drops_seen_ = by_workers;
    drops_seen_ = s.dropped_by_kind;
    drops_changed_ms_ = now_ms;
  } else if (dropping_ && now_ms - drops_changed_ms_ >= 10'000) {
    log_(false, "ledger: " + by_kind(since_reported()) +
                    " event(s) were dropped; none in the last 10 s (" + std::to_string(s.dropped) +
                    " since start)");
    drops_reported_ = s.dropped_by_kind;
    dropping_ = false;
  }
}

void LedgerWriter::rolled_back() {
  // The transaction's events are applied again on the next attempt: they must find the rows
  // and counts the database still has.
  rows_.rolled_back();
  refusals_.rolled_back();
}

namespace {

// Text forms of a session's values, in buffers that outlive the statement step (bound without
// copying).
struct SessionText {
  char sid[17];
  char client[core::IpAddress::kMaxText];
  char relay[core::IpAddress::kMaxText];
  char relay6[core::IpAddress::kMaxText];

  SessionText(uint64_t id, const SessionIdentity& s) {
    static const char kHex[] = "0123456789abcdef";
    for (int i = 0; i < 16; ++i) sid[i] = kHex[(id >> (60 - 4 * i)) & 0xF];
    sid[16] = '\0';
    s.client.ip().format(client);
    relay[0] = relay6[0] = '\0';
    if (s.has_relay) s.relay.ip().format(relay);
    if (s.has_relay6) s.relay6.ip().format(relay6);
  }
};

// Binds the columns ?1-?14 of insert_session and full_session: who, from where, since when.
void bind_identity(Statement& s, const WriterOptions& o, const std::string& boot,
                          const SessionText& text, const SessionIdentity& id, int64_t at_ms) {
  s.bind_static(1, o.node).bind_static(2, boot).bind_static(3, text.sid).bind_static(4, o.realm);
  s.bind_static(5, id.username.view()).bind_static(6, id.transport.view());
  s.bind_static(7, text.client).bind(8, int64_t(id.client.port()));
  if (id.has_relay) {
    s.bind_static(9, text.relay).bind(10, int64_t(id.relay.port()));
  } else {
    s.bind_null(9).bind_null(10);
  }
  if (id.has_relay6) {
    s.bind_static(11, text.relay6).bind(12, int64_t(id.relay6.port()));
  } else {
    s.bind_null(11).bind_null(12);
  }
  s.bind(13, id.started_ms).bind(14, at_ms);
}

// Counters and, for an end, its time and reason, into the row of a session this run wrote.
bool update_row(Statement& u, int64_t row, int64_t at_ms, const SessionCounters& c,
                       const FixedString<24>* end_reason) {
  u.reset();
  u.bind(1, row).bind(2, at_ms);
  if (end_reason) {
    u.bind(3, at_ms).bind_static(4, end_reason->view());
  } else {
    u.bind_null(3).bind_null(4);
  }
  u.bind(5, int64_t(c.bytes_from_client)).bind(6, int64_t(c.packets_from_client));
  u.bind(7, int64_t(c.bytes_to_client)).bind(8, int64_t(c.packets_to_client));
  const bool ok = u.step() == SQLITE_DONE;
  u.reset();
  return ok;
}

}  // namespace

bool LedgerWriter::apply_start(const SessionStart& e) {
  const SessionText text(e.head.sid, e.session);
  Statement& s = st_->insert_session;
  s.reset();
  bind_identity(s, o_, boot_, text, e.session, e.head.at_ms);
  const int rc = s.step();
  s.reset();
  if (rc != SQLITE_DONE) return false;
  rows_.set(e.head.sid, sqlite3_last_insert_rowid(db_->get()));
  return true;
}

bool LedgerWriter::apply_update(const SessionUpdate& e) {
  // A session whose start was lost has no row yet: its end writes the whole row.
  const std::optional<int64_t> row = rows_.find(e.head.sid);
  if (!row) return true;
  return update_row(st_->update_session, *row, e.head.at_ms, e.counters, nullptr);
}

bool LedgerWriter::apply_end(const SessionEnd& e) {
  if (const std::optional<int64_t> row = rows_.find(e.head.sid)) {
    if (!update_row(st_->update_session, *row, e.head.at_ms, e.counters, &e.end_reason))
      return false;
    rows_.erase(e.head.sid);
    return true;
  }
  // Its start was dropped: the end carries the whole row, so only the start time's precision
  // is lost.
  const SessionText text(e.head.sid, e.session);
  Statement& s = st_->full_session;
  s.reset();
  bind_identity(s, o_, boot_, text, e.session, e.head.at_ms);
  s.bind(15, e.head.at_ms).bind_static(16, e.end_reason.view());
  s.bind(17, int64_t(e.counters.bytes_from_client))
      .bind(18, int64_t(e.counters.packets_from_client));
  s.bind(19, int64_t(e.counters.bytes_to_client)).bind(20, int64_t(e.counters.packets_to_client));
  const int rc = s.step();
  s.reset();
  return rc == SQLITE_DONE;
}

bool LedgerWriter::apply_peers(const SessionPeers& e) {
  const std::optional<int64_t> found = rows_.find(e.head.sid);
  if (!found) return true;  // its session's start was dropped: nothing to attach to
  const int64_t row = *found;
  Statement& s = st_->upsert_peer;
  for (uint8_t i = 0; i < e.count && i < SessionPeers::kMaxPeers; ++i) {
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

bool LedgerWriter::apply_refusal(const Refusal& e) {
  const int64_t at = e.head.at_ms;
  const std::string peer =
      e.has_peer ? (e.peer.port() ? e.peer.to_string() : e.peer.ip().to_string()) : "";
  const std::string key = RefusalFolding::key_of(e, peer);
  if (refusals_.decide(key, at) != RefusalFolding::Action::NewRow) return true;
  Statement& s = st_->insert_refusal;
  s.reset();
  s.bind(1, at).bind(2, o_.node).bind(3, e.client.ip().to_string());
  s.bind(4, int64_t(e.client.port()));
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
  refusals_.add_row(key, row, at);
  return true;
}

bool LedgerWriter::apply(const LedgerEvent& e) {
  struct {
    LedgerWriter* w;
    bool operator()(const SessionStart& x) { return w->apply_start(x); }
    bool operator()(const SessionUpdate& x) { return w->apply_update(x); }
    bool operator()(const SessionEnd& x) { return w->apply_end(x); }
    bool operator()(const SessionPeers& x) { return w->apply_peers(x); }
    bool operator()(const Refusal& x) { return w->apply_refusal(x); }
  } visitor{this};
  return std::visit(visitor, e);
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
  for (size_t k = 0; k < kEventKinds; ++k) h.bind(8 + int(k), int64_t(s.dropped_by_kind[k]));
  return h.step() == SQLITE_DONE;
}

bool LedgerWriter::write_pending() {
  std::string err;
  if (int rc = db_->exec("BEGIN IMMEDIATE", &err); rc != SQLITE_OK) {
    failed("cannot start a transaction: " + err, rc);
    return false;
  }
  std::array<uint64_t, kEventKinds> bad{};
  bool ok = true;
  std::string what;
  int code = SQLITE_OK;
  LedgerEvent e;
  pending_.for_each([&](const RecordHeader& h, const std::byte* record) {
    if (!ok) return;
    if (!decode_event(h, record, e)) {
      ++bad[h.kind < kEventKinds ? h.kind : 0];
      return;
    }
    if (apply(e)) return;
    const int rc = db_->last_code();
    if (transient(rc) || is_damaged(rc)) {
      ok = false;
      what = db_->last_error();
      code = rc;
      return;
    }
    ++bad[h.kind];  // a record SQLite refuses for good: skip it, keep the rest
  });
  // Identical refusals folded in this transaction: one UPDATE per row, not per refusal.
  refusals_.for_each_unwritten([&](int64_t row, int64_t last_at, int64_t n) {
    if (!ok) return;
    Statement& u = st_->fold_refusal;
    u.reset();
    u.bind(1, row).bind(2, last_at).bind(3, n);
    if (u.step() != SQLITE_DONE) {
      ok = false;
      what = db_->last_error();
      code = db_->last_code();
    }
    u.reset();
  });
  if (!ok) {
    db_->exec("ROLLBACK");
    rolled_back();
    failed(what, code);
    return false;
  }
  const int64_t now = wall_ms();
  const bool health_due = now - last_health_ms_ >= 5000;
  if (health_due) write_health();
  if (int rc = db_->exec("COMMIT", &err); rc != SQLITE_OK) {
    db_->exec("ROLLBACK");
    rolled_back();
    failed("cannot commit: " + err, rc);
    return false;
  }
  if (health_due) last_health_ms_ = now;
  rows_.committed();
  const uint64_t capped = refusals_.committed();
  uint64_t bad_total = 0;
  for (uint64_t n : bad) bad_total += n;
  {
    std::lock_guard lock(stats_mu_);
    stats_.written += pending_.size() - bad_total;
    stats_.refusals_folded += capped;
    for (size_t k = 0; k < kEventKinds; ++k) stats_.dropped_by_kind[k] += bad[k];
    stats_.database_ok = true;
    stats_.last_error.clear();
    stats_.pending = 0;
    stats_.pending_bytes = 0;
  }
  if (bad_total)
    log_(true, "ledger: " + std::to_string(bad_total) + " event(s) refused by SQLite were skipped");
  if (failing_) {
    log_(false, "ledger " + o_.path + " works again; writing resumed");
    failing_ = false;
    failure_.clear();
  }
  pending_.clear();
  return true;
}

void LedgerWriter::run() {
  int64_t give_up_at = 0;
  int64_t last_drop_report_ms = 0;
  while (true) {
    // The rings are emptied often (they are small and the workers never wait); the database is
    // written less often, in big transactions: most of the cost of a commit is per transaction
    // and per page, not per row.
    if (stopping_) {
      // The workers have stopped: what their backlogs hold goes through the rings too.
      for (auto& p : producers_) p->flush();
    }
    collect();
    const int64_t now = wall_ms();
    if (damaged_) check_replaced(now);
    const bool due = now - last_commit_ms_ >= o_.flush_interval_ms ||
                     pending_.size() >= o_.commit_batch || stopping_;
    if (!damaged_ && due && (!pending_.empty() || now - last_health_ms_ >= 5000) &&
        now >= retry_at_ms_ && ensure_open()) {
      write_pending();
      last_commit_ms_ = now;
    }
    if (!damaged_ && !failing_) prune_step(now);
    if (now - last_drop_report_ms >= 1000) {
      report_drops(now);
      last_drop_report_ms = now;
    }
    if (stopping_) {
      bool queued = false;
      for (auto& p : producers_) queued = queued || !p->ring.empty() || p->backlog_bytes() > 0;
      if (!queued && pending_.empty()) break;
      // The database is failing at shutdown: try for a little while, then report the loss.
      if (!failing_) give_up_at = 0;
      if (failing_ && give_up_at == 0) give_up_at = now + 3000;
      if (give_up_at && now >= give_up_at) {
        const size_t n = pending_.size();
        drop_pending();
        for (auto& p : producers_) {
          p->ring.drain([&](const RecordHeader& h, const std::byte*) {
            if (h.kind < kEventKinds) drop(EventKind(h.kind));
          });
        }
        log_(true, "ledger: stopping with " + std::to_string(n) +
                       " event(s) unwritten because the ledger is failing: " + failure_);
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
