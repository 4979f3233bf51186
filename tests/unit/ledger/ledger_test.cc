// The ledger library: migrations, the writer's batching and failure handling, folding of
// refusals, interrupted sessions, retention, the credential log and the queries.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "ledger/credential_log.h"
#include "ledger/ledger_queries.h"
#include "ledger/ledger_writer.h"
#include "ledger/migrations.h"

namespace turnpike::ledger {
namespace {

namespace fs = std::filesystem;

class LedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::path(::testing::TempDir()) /
          ("ledger-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
    path = (dir / "ledger.db").string();
  }
  void TearDown() override { fs::remove_all(dir); }

  Database open_rw() {
    std::string err;
    auto db = Database::open(path, Database::Mode::ReadWrite, 2000, &err);
    EXPECT_TRUE(db) << err;
    EXPECT_TRUE(apply_migrations(*db, &err)) << err;
    return std::move(*db);
  }

  int64_t count(const char* sql) {
    auto db = open_rw();
    Statement s = db.prepare(sql);
    EXPECT_TRUE(s);
    EXPECT_EQ(s.step(), SQLITE_ROW);
    return s.int_at(0);
  }

  WriterOptions options() {
    WriterOptions o;
    o.path = path;
    o.node = "test-node";
    o.realm = "test.realm";
    o.flush_interval_ms = 10;
    return o;
  }

  static SessionIdentity identity(const char* user) {
    SessionIdentity s;
    s.started_ms = 1'000'000;
    s.transport.set("udp");
    s.username.set(user);
    s.client = *core::SocketAddress::parse("198.51.100.1:4000");
    s.relay = *core::SocketAddress::parse("192.0.2.1:50000");
    s.has_relay = true;
    return s;
  }

  static LedgerEvent session(EventKind kind, uint64_t sid, const char* user, int64_t at,
                             uint64_t bytes = 0) {
    const EventHead head{{}, sid, at};
    const SessionCounters counters{bytes, bytes / 100, 2 * bytes, bytes / 50};
    switch (kind) {
      case EventKind::SessionStart: {
        SessionStart e;
        e.head = head;
        e.session = identity(user);
        return e;
      }
      case EventKind::SessionUpdate: {
        SessionUpdate e;
        e.head = head;
        e.counters = counters;
        return e;
      }
      default: {
        SessionEnd e;
        e.head = head;
        e.counters = counters;
        e.end_reason.set("refresh-0");
        e.session = identity(user);
        return e;
      }
    }
  }

  static Refusal refusal(const char* ip, const char* reason, int64_t at) {
    Refusal e;
    e.head.at_ms = at;
    e.client = core::SocketAddress(*core::IpAddress::parse(ip), 5000);
    e.transport.set("udp");
    e.method.set("Allocate");
    e.code = 401;
    e.reason.set(reason);
    e.username.set("1:eve");
    return e;
  }

  std::vector<std::string> logs;
  LogFunction log = [this](bool, const std::string& m) { logs.push_back(m); };
  fs::path dir;
  std::string path;
};

TEST_F(LedgerTest, MigrationsAreIdempotent) {
  {
    auto db = open_rw();
    EXPECT_EQ(schema_version(db), migrations().back().version);
  }
  {
    auto db = open_rw();  // second time: nothing to do, no error
    EXPECT_EQ(schema_version(db), migrations().back().version);
  }
  EXPECT_EQ(count("SELECT count(*) FROM schema_version"), int64_t(migrations().size()));
  EXPECT_EQ(count("PRAGMA foreign_keys"), 1);
}

TEST_F(LedgerTest, ConcurrentOpenersApplyTheSchemaOnce) {
  // The relay and the Prosody module may open a new file at the same moment.
  std::vector<std::thread> threads;
  std::mutex mu;
  std::vector<std::string> errors;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      std::string err;
      auto db = Database::open(path, Database::Mode::ReadWrite, 5000, &err);
      if (!db || !apply_migrations(*db, &err)) {
        std::lock_guard lock(mu);
        errors.push_back(err);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_TRUE(errors.empty()) << errors.front();
  EXPECT_EQ(count("SELECT count(*) FROM schema_version"), int64_t(migrations().size()));
  auto db = open_rw();
  Statement mode = db.prepare("PRAGMA journal_mode");
  ASSERT_EQ(mode.step(), SQLITE_ROW);
  EXPECT_EQ(mode.text_at(0), "wal");
}

TEST_F(LedgerTest, NewerSchemaIsRefusedWithAClearError) {
  {
    auto db = open_rw();
    db.exec("INSERT INTO schema_version VALUES (999, 'future', 0)");
  }
  std::string err;
  auto db = Database::open(path, Database::Mode::ReadWrite, 2000, &err);
  ASSERT_TRUE(db);
  EXPECT_FALSE(apply_migrations(*db, &err));
  EXPECT_NE(err.find("upgrade turnpike"), std::string::npos);
}

TEST_F(LedgerTest, WriterRecordsSessionsAndPeers) {
  {
    LedgerWriter w(options(), log);
    Producer& p = w.add_producer();
    w.start();
    p.push(session(EventKind::SessionStart, 7, "1:alice", 1'000'000));
    SessionPeers peers;
    peers.head.sid = 7;
    peers.count = 2;
    peers.peers[0] = {*core::IpAddress::parse("203.0.113.9"), 100, 1, 200, 2};
    peers.peers[1] = {*core::IpAddress::parse("2001:db8::9"), 300, 3, 400, 4};
    p.push(peers);
    p.push(session(EventKind::SessionEnd, 7, "1:alice", 1'060'000, 5000));
    w.stop();
    EXPECT_EQ(w.stats().written, 3u);
    EXPECT_EQ(w.stats().dropped, 0u);
  }
  auto db = open_rw();
  SessionFilter f;
  auto rows = query_sessions(db, f);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].username, "1:alice");
  EXPECT_EQ(rows[0].node, "test-node");
  EXPECT_EQ(rows[0].realm, "test.realm");
  EXPECT_EQ(rows[0].sid, "0000000000000007");
  EXPECT_EQ(rows[0].client_ip, "198.51.100.1");
  EXPECT_EQ(rows[0].relay_port, 50000);
  ASSERT_TRUE(rows[0].ended_at);
  EXPECT_EQ(*rows[0].ended_at, 1'060'000);
  EXPECT_EQ(rows[0].end_reason, "refresh-0");
  EXPECT_EQ(rows[0].bytes_from_client, 5000);
  EXPECT_EQ(rows[0].bytes_to_client, 10000);
  auto p = query_peers(db, rows[0].id);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0].peer_ip, "2001:db8::9");  // most traffic first
  EXPECT_EQ(p[1].bytes_from_peer, 200);
}

TEST_F(LedgerTest, EndWithoutStartStillRecordsTheSession) {
  {
    LedgerWriter w(options(), log);
    Producer& p = w.add_producer();
    w.start();
    p.push(session(EventKind::SessionEnd, 9, "1:bob", 1'500'000, 77));
    w.stop();
  }
  auto db = open_rw();
  auto rows = query_sessions(db, SessionFilter{});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].bytes_from_client, 77);
  EXPECT_EQ(rows[0].end_reason, "refresh-0");
}

TEST_F(LedgerTest, UpdatesKeepActiveSessionsCurrent) {
  LedgerWriter w(options(), log);
  Producer& p = w.add_producer();
  w.start();
  p.push(session(EventKind::SessionStart, 1, "1:a", 1'000'000));
  p.push(session(EventKind::SessionUpdate, 1, "1:a", 1'030'000, 1234));
  w.stop();
  auto db = open_rw();
  SessionFilter f;
  f.active_only = true;
  auto rows = query_sessions(db, f);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_FALSE(rows[0].ended_at);
  EXPECT_EQ(rows[0].updated_at, 1'030'000);
  EXPECT_EQ(rows[0].bytes_from_client, 1234);
}

TEST_F(LedgerTest, SessionsLeftOpenByACrashAreClosedAsInterrupted) {
  {
    LedgerWriter crashed(options(), log);
    Producer& p = crashed.add_producer();
    crashed.start();
    p.push(session(EventKind::SessionStart, 1, "1:a", 1'000'000));
    p.push(session(EventKind::SessionUpdate, 1, "1:a", 1'030'000, 99));
    crashed.stop();  // never wrote an end: as after kill -9
  }
  {
    LedgerWriter next(options(), log);
    next.add_producer();
    next.start();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    next.stop();
  }
  auto db = open_rw();
  auto rows = query_sessions(db, SessionFilter{});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].end_reason, "interrupted");
  EXPECT_EQ(*rows[0].ended_at, 1'030'000);  // its last known moment
  EXPECT_EQ(rows[0].bytes_from_client, 99);
  bool logged = false;
  for (const auto& m : logs) logged |= m.find("closed as interrupted") != std::string::npos;
  EXPECT_TRUE(logged);
}

TEST_F(LedgerTest, AProcessTakingOverGoesOnInTheSameRows) {
  // DESIGN.md "Restart and upgrade": the process that takes over writes under the old one's
  // run id; the sessions it took over update and end their rows, none is closed as interrupted.
  std::string boot;
  {
    LedgerWriter old(options(), log);
    Producer& p = old.add_producer();
    old.start();
    p.push(session(EventKind::SessionStart, 7, "1:a", 1'000'000));
    p.push(session(EventKind::SessionStart, 8, "1:b", 1'000'000));
    p.push(session(EventKind::SessionEnd, 8, "1:b", 1'010'000, 5));
    old.stop();
    boot = old.boot();
  }
  {
    WriterOptions o = options();
    o.boot = boot;
    LedgerWriter next(o, log);
    EXPECT_EQ(next.boot(), boot);
    Producer& p = next.add_producer();
    next.start();
    p.push(session(EventKind::SessionUpdate, 7, "1:a", 1'030'000, 1234));
    p.push(session(EventKind::SessionEnd, 7, "1:a", 1'040'000, 2000));
    next.stop();
  }
  auto db = open_rw();
  auto rows = query_sessions(db, SessionFilter{});
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(count("SELECT count(*) FROM sessions WHERE end_reason = 'interrupted'"), 0);
  EXPECT_EQ(count("SELECT bytes_from_client FROM sessions WHERE sid = '0000000000000007'"), 2000);
  EXPECT_EQ(count("SELECT ended_at FROM sessions WHERE sid = '0000000000000007'"), 1'040'000);
  bool logged = false;
  for (const auto& m : logs) logged |= m.find("1 open session(s) of run") != std::string::npos;
  EXPECT_TRUE(logged);
}

TEST_F(LedgerTest, IdenticalRefusalsFoldAndNewRowsAreCapped) {
  WriterOptions o = options();
  o.refusal_rows_per_second = 3;
  {
    LedgerWriter w(o, log);
    Producer& p = w.add_producer();
    w.start();
    // The same source and reason a thousand times in one second: one row with a count.
    for (int i = 0; i < 1000; ++i) {
      while (!p.push(refusal("198.51.100.7", "bad-integrity", 2'000'000 + i))) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    // Ten different sources in the same second: only three new rows, the rest counted.
    for (int i = 0; i < 10; ++i)
      p.push(refusal(("198.51.100." + std::to_string(100 + i)).c_str(), "stale-nonce", 2'000'500));
    w.stop();
    EXPECT_EQ(w.stats().refusals_folded, 8u);
  }
  EXPECT_EQ(count("SELECT count(*) FROM refusals"), 3);
  EXPECT_EQ(count("SELECT count FROM refusals WHERE client_ip = '198.51.100.7'"), 1000);
  EXPECT_EQ(count("SELECT refusals_folded FROM ledger_health"), 8);
}

TEST_F(LedgerTest, AFullRingDropsAndCountsWithoutBlocking) {
  WriterOptions o = options();
  o.ring_bytes = 4096;
  o.backlog_bytes = 8192;
  LedgerWriter w(o, log);
  Producer& p = w.add_producer();  // not started: nobody drains
  size_t accepted = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 3000; ++i)
    accepted += p.push(session(EventKind::SessionStart, uint64_t(i), "u", 1));
  for (int i = 0; i < 100; ++i) p.push(session(EventKind::SessionUpdate, uint64_t(i), "u", 2));
  const auto took = std::chrono::steady_clock::now() - t0;
  // A start with a one-byte username takes its fixed part plus that byte, rounded to 8.
  const size_t start_bytes = RecordRing::round_up(SessionStart().size() + 1);
  EXPECT_EQ(accepted, 4096 / start_bytes + 8192 / start_bytes);  // the ring, then the backlog
  EXPECT_EQ(p.dropped(EventKind::SessionStart), 3000 - accepted);
  EXPECT_EQ(p.dropped(EventKind::SessionUpdate), 100u);
  EXPECT_LT(took, std::chrono::milliseconds(500));  // never waited
  const WriterStats s = w.stats();
  EXPECT_EQ(s.dropped_by_kind[size_t(EventKind::SessionStart)], 3000 - accepted);
  EXPECT_EQ(s.dropped_by_kind[size_t(EventKind::SessionUpdate)], 100u);
  EXPECT_EQ(s.dropped, 3000 - accepted + 100);
}

TEST_F(LedgerTest, LockedDatabaseDelaysWritesAndLosesNothing) {
  auto holder = open_rw();
  ASSERT_EQ(holder.exec("BEGIN EXCLUSIVE"), SQLITE_OK);
  LedgerWriter w(options(), log);
  Producer& p = w.add_producer();
  w.start();
  for (int i = 0; i < 50; ++i)
    p.push(session(EventKind::SessionEnd, uint64_t(i), "1:a", 1'000'000 + i, 10));
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // longer than the busy timeout
  EXPECT_FALSE(w.stats().database_ok);
  EXPECT_EQ(w.stats().written, 0u);
  holder.exec("COMMIT");
  // The writer retries on its own schedule (a second after a failure, then up to the busy
  // timeout): give it time, generously, on a loaded machine.
  for (int i = 0; i < 300 && w.stats().written < 50; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(w.stats().written, 50u);
  EXPECT_EQ(w.stats().dropped, 0u);
  w.stop();
  EXPECT_EQ(count("SELECT count(*) FROM sessions"), 50);
  bool failed = false, resumed = false;
  for (const auto& m : logs) {
    failed |= m.find("relaying continues") != std::string::npos;
    resumed |= m.find("writing resumed") != std::string::npos;
  }
  EXPECT_TRUE(failed);
  EXPECT_TRUE(resumed);
}

TEST_F(LedgerTest, UnopenableLedgerIsReportedAndEventsAreBoundedInMemory) {
  WriterOptions o = options();
  o.path = (dir / "missing-directory" / "ledger.db").string();
  o.max_pending = 10;
  LedgerWriter w(o, log);
  Producer& p = w.add_producer();
  w.start();
  for (int i = 0; i < 30; ++i) p.push(session(EventKind::SessionStart, uint64_t(i), "u", 1));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(w.stats().database_ok);
  EXPECT_EQ(w.stats().pending, 10u);
  EXPECT_GE(w.stats().dropped, 20u);
  ASSERT_FALSE(logs.empty());
  EXPECT_NE(logs[0].find("cannot open ledger"), std::string::npos);
  w.stop();
}

TEST_F(LedgerTest, RetentionDeletesOldRows) {
  {
    auto db = open_rw();
    db.exec(
        "INSERT INTO sessions (node, boot, sid, realm, username, transport, client_ip, "
        "client_port, started_at,"
        " updated_at, ended_at, end_reason) VALUES ('n', 'b', 'old', 'r', 'u', 'udp', '1.1.1.1', "
        "1, 1000, 1000,"
        " 1000, 'expired')");
    db.exec(
        "INSERT INTO refusals (at, last_at, node, client_ip, client_port, transport, method, code, "
        "reason)"
        " VALUES (1000, 1000, 'n', '1.1.1.1', 1, 'udp', 'Allocate', 401, 'bad-integrity')");
  }
  WriterOptions o = options();
  o.retention_days = 30;
  {
    LedgerWriter w(o, log);
    Producer& p = w.add_producer();
    w.start();
    p.push(session(EventKind::SessionStart, 1, "new", int64_t(std::time(nullptr)) * 1000));
    w.stop();
  }
  EXPECT_EQ(count("SELECT count(*) FROM sessions"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM refusals"), 0);
}

TEST_F(LedgerTest, CredentialLogAndWhoQueries) {
  {
    CredentialLog c(path);
    c.record({1'000'000, "localhost", "alice@localhost/phone", "100:alice", 100});
    c.record({1'000'001, "localhost", "alice@localhost/laptop", "101:alice", 101});
    c.record({1'000'002, "localhost", "bob@localhost/x", "102:bob", 102});
    EXPECT_TRUE(c.flush());
    EXPECT_EQ(c.stats().written, 3u);
  }
  auto db = open_rw();
  EXPECT_EQ(query_credentials(db, "alice@localhost").size(),
            2u);  // a bare JID matches its resources
  EXPECT_EQ(query_credentials(db, "alice@localhost/phone").size(), 1u);
  EXPECT_EQ(query_credentials(db, "102:bob").size(), 1u);
  EXPECT_EQ(query_credentials(db, "alice@local%").size(), 0u);  // LIKE wildcards are literal
  auto t = query_totals(db, std::nullopt, 5);
  EXPECT_EQ(t.credentials, 3);
}

TEST_F(LedgerTest, CredentialLogSurvivesAnUnwritableLedger) {
  CredentialLog c((dir / "nope" / "ledger.db").string(), nullptr, 5);
  for (int i = 0; i < 8; ++i) c.record({1, "h", "j", "u", 1});
  EXPECT_FALSE(c.flush(300));
  EXPECT_EQ(c.stats().dropped, 3u);
}

// Retention deletes in chunks (each its own short transaction, so Prosody's credential writer
// and the relay's own events get the lock in between), found by index rather than a scan.
TEST_F(LedgerTest, RetentionDeletesInChunksByIndex) {
  {
    auto db = open_rw();
    ASSERT_EQ(db.exec("BEGIN"), SQLITE_OK);
    for (int i = 0; i < 4500; ++i) {
      const std::string n = std::to_string(i);
      db.exec(("INSERT INTO sessions (node, boot, sid, realm, username, transport, client_ip,"
               " client_port, started_at, updated_at, ended_at, end_reason) VALUES ('n', 'b', 'old" +
               n + "', 'r', 'u', 'udp', '1.1.1.1', 1, 1000, 1000, 1000, 'expired')")
                  .c_str());
      db.exec(("INSERT INTO credentials (issued_at, host, jid, username, expires_at) VALUES (1000,"
               " 'h', 'j', 'u" + n + "', 2000)")
                  .c_str());
    }
    ASSERT_EQ(db.exec("COMMIT"), SQLITE_OK);
    // Each DELETE's subquery finds its rows through an index.
    const std::pair<const char*, const char*> plans[] = {
        {"SELECT id FROM sessions WHERE ended_at IS NOT NULL AND ended_at < 5 LIMIT 2000",
         "sessions_ended"},
        {"SELECT id FROM refusals WHERE last_at < 5 LIMIT 2000", "refusals_last"},
        {"SELECT id FROM credentials WHERE issued_at < 5 LIMIT 2000", "credentials_issued"},
    };
    for (const auto& [sql, index] : plans) {
      Statement plan = db.prepare(std::string("EXPLAIN QUERY PLAN ") + sql);
      ASSERT_TRUE(plan);
      std::string text;
      while (plan.step() == SQLITE_ROW) text += plan.text_at(3) + "\n";
      EXPECT_NE(text.find(index), std::string::npos) << sql << ": " << text;
    }
  }
  WriterOptions o = options();
  o.retention_days = 30;
  LedgerWriter w(o, log);
  Producer& p = w.add_producer();
  w.start();
  p.push(session(EventKind::SessionStart, 1, "new", int64_t(std::time(nullptr)) * 1000));
  for (int i = 0; i < 400 && count("SELECT count(*) FROM credentials") > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  w.stop();
  EXPECT_EQ(count("SELECT count(*) FROM sessions"), 1);  // the new one
  EXPECT_EQ(count("SELECT count(*) FROM credentials"), 0);
}

// While the ledger cannot be written, waiting events are bounded by the bytes they take, not by
// their number: small updates fit many, and what does not fit is dropped and counted by kind.
TEST_F(LedgerTest, EventsWaitingForAFailingLedgerAreBoundedInBytes) {
  WriterOptions o = options();
  o.path = (dir / "missing-directory" / "ledger.db").string();
  o.max_pending_bytes = 64 * 1024;
  LedgerWriter w(o, log);
  Producer& p = w.add_producer();
  w.start();
  for (int i = 0; i < 3000; ++i) p.push(session(EventKind::SessionUpdate, uint64_t(i), "u", 1));
  const size_t fit = o.max_pending_bytes / sizeof(SessionUpdate);
  for (int i = 0; i < 200 && w.stats().pending + w.stats().dropped < 3000; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const WriterStats s = w.stats();
  EXPECT_EQ(s.pending, fit);
  EXPECT_LE(s.pending_bytes, o.max_pending_bytes);
  EXPECT_EQ(s.dropped_by_kind[size_t(EventKind::SessionUpdate)], 3000 - fit);
  EXPECT_EQ(s.dropped, 3000 - fit);
  w.stop();
}

// A file that is not a database (or a corrupt one) is not retried forever with every event held
// in memory: the writer says once what to do, counts what it cannot record, and records again
// as soon as the file has been moved aside.
TEST_F(LedgerTest, ADamagedLedgerIsReportedOnceAndReplacedWithoutARestart) {
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_TRUE(f);
    for (int i = 0; i < 200; ++i) std::fputs("this is not an SQLite database\n", f);
    std::fclose(f);
  }
  LedgerWriter w(options(), log);
  Producer& p = w.add_producer();
  w.start();
  for (int i = 0; i < 50 && !w.stats().damaged; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(w.stats().damaged) << w.stats().last_error;
  for (int i = 0; i < 20; ++i) p.push(session(EventKind::SessionStart, uint64_t(i), "1:a", 1'000'000));
  for (int i = 0; i < 100 && w.stats().dropped < 20; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(w.stats().dropped_by_kind[size_t(EventKind::SessionStart)], 20u);
  EXPECT_EQ(w.stats().pending, 0u);  // nothing held for a file that cannot take it
  int told = 0;
  for (const auto& m : logs) told += m.find("is damaged") != std::string::npos;
  EXPECT_EQ(told, 1);
  EXPECT_NE(logs.front().find("mv " + path + " " + path + ".damaged"), std::string::npos)
      << logs.front();

  fs::rename(path, path + ".damaged");
  for (int i = 0; i < 150 && w.stats().damaged; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(w.stats().damaged);
  p.push(session(EventKind::SessionEnd, 99, "1:b", 1'000'000, 5));
  w.stop();
  EXPECT_EQ(count("SELECT count(*) FROM sessions WHERE username = '1:b'"), 1);
  bool again = false;
  for (const auto& m : logs) again |= m.find("recording again") != std::string::npos;
  EXPECT_TRUE(again);
  EXPECT_EQ(count("SELECT dropped_starts FROM ledger_health"), 20);
}

// A burst larger than the ring (a mass expiry) waits in the worker's backlog, in order, and
// reaches the database: a session's end never overtakes its start.
TEST_F(LedgerTest, ABurstLargerThanTheRingGoesThroughTheBacklogInOrder) {
  WriterOptions o = options();
  o.ring_bytes = 4096;
  LedgerWriter w(o, log);
  Producer& p = w.add_producer();
  for (int i = 0; i < 1000; ++i)
    ASSERT_TRUE(p.push(session(EventKind::SessionStart, uint64_t(i), "1:a", 1'000'000)));
  for (int i = 0; i < 1000; ++i)
    ASSERT_TRUE(p.push(session(EventKind::SessionEnd, uint64_t(i), "1:a", 1'060'000, 10)));
  EXPECT_GT(p.backlog_bytes(), 0u);
  w.start();
  // The worker flushes its backlog every tick.
  for (int i = 0; i < 500 && (p.backlog_bytes() || !p.ring.empty()); ++i) {
    p.flush();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  w.stop();
  EXPECT_EQ(w.stats().dropped, 0u);
  EXPECT_EQ(w.stats().written, 2000u);
  EXPECT_EQ(count("SELECT count(*) FROM sessions"), 1000);  // one row each: start, then end
  EXPECT_EQ(count("SELECT count(*) FROM sessions WHERE end_reason = 'refresh-0'"), 1000);
  EXPECT_EQ(count("SELECT count(*) FROM sessions WHERE started_at = 1000000"), 1000);
}

// Stopping: a worker waits for room in its ring, but one deadline bounds all its waits together.
TEST_F(LedgerTest, WaitingForRoomAtStopIsBoundedInTotal) {
  Producer p(4096, 4096);  // nobody drains it
  const auto started = std::chrono::steady_clock::now();
  const auto deadline = started + std::chrono::milliseconds(200);
  size_t kept = 0;
  for (int i = 0; i < 500; ++i)
    kept += p.push_until(std::get<SessionEnd>(session(EventKind::SessionEnd, uint64_t(i), "u", 1)),
                         deadline);
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_LT(took, std::chrono::milliseconds(1500));  // not a wait per event
  EXPECT_GT(kept, 0u);
  EXPECT_EQ(p.dropped(EventKind::SessionEnd), 500 - kept);
}

// What ops' event log builds on: every event taken from the rings, on the writer thread.
TEST_F(LedgerTest, TheEventHookSeesEveryEvent) {
  std::mutex mu;
  std::array<int, kEventKinds> seen{};
  WriterOptions o = options();
  o.on_event = [&](const LedgerEvent& e) {
    std::lock_guard lock(mu);
    ++seen[size_t(kind_of(e))];
  };
  LedgerWriter w(o, log);
  Producer& p = w.add_producer();
  w.start();
  p.push(session(EventKind::SessionStart, 1, "1:a", 1'000'000));
  p.push(session(EventKind::SessionUpdate, 1, "1:a", 1'030'000, 5));
  p.push(session(EventKind::SessionEnd, 1, "1:a", 1'060'000, 9));
  p.push(refusal("198.51.100.7", "bad-integrity", 1'000'001));
  w.stop();
  std::lock_guard lock(mu);
  EXPECT_EQ(seen, (std::array<int, kEventKinds>{1, 1, 1, 0, 1}));
}

// Closing (Prosody unloading the module, a path change, a garbage collection) must not wait for
// a locked database: half a second for what is pending, then the writer is left to give up by
// itself and the records it did not write are counted.
TEST_F(LedgerTest, CredentialLogCloseIsBoundedWhenTheLedgerIsLocked) {
  {
    CredentialLog c(path);
    c.record({1, "h", "j", "u", 1});
    ASSERT_TRUE(c.flush());
  }
  Database holder = open_rw();
  ASSERT_EQ(holder.exec("BEGIN EXCLUSIVE"), SQLITE_OK);
  auto c = std::make_unique<CredentialLog>(path);
  for (int i = 0; i < 5; ++i) c->record({2, "h", "j", "u", 2});
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(c->close(), 5u);
  const auto took = std::chrono::steady_clock::now() - started;
  // One attempt alone waits out the 2 s busy timeout; a close that waited for it takes longer.
  EXPECT_LT(took, std::chrono::milliseconds(1900));
  EXPECT_EQ(c->close(), 5u);  // the same answer again; the destructor does not wait either
  c.reset();
  ASSERT_EQ(holder.exec("COMMIT"), SQLITE_OK);
  // The attempt that was under way may still have got the lock: all five or none, never part.
  const int64_t rows = count("SELECT count(*) FROM credentials");
  EXPECT_TRUE(rows == 1 || rows == 6) << rows;
}

TEST_F(LedgerTest, CredentialLogCloseWritesWhatIsPending) {
  CredentialLog c(path);
  // Appended, not "u" + std::to_string(i): GCC 12 -O3 reports a false -Wrestrict for a
  // literal prepended to a temporary string.
  for (int i = 0; i < 300; ++i) {
    std::string user = "u";
    user += std::to_string(i);
    c.record({i, "h", "j", user, 1});
  }
  EXPECT_EQ(c.close(), 0u);
  EXPECT_EQ(c.stats().written, 300u);
  c.record({1, "h", "j", "late", 1});  // after close: counted, never written
  EXPECT_EQ(c.stats().dropped, 1u);
  EXPECT_EQ(count("SELECT count(*) FROM credentials"), 300);
}

TEST_F(LedgerTest, ARolledBackTransactionIsAppliedAgainIntoTheSameRows) {
  // A transaction that fails half-way (here a trigger refuses the UPDATE that writes folded
  // refusal counts; a full disk does the same) is rolled back and its events are applied again:
  // they must land in the rows the database still has, as if the failure had not happened.
  WriterOptions o = options();
  o.refusal_rows_per_second = 1;
  LedgerWriter w(o, log);
  Producer& p = w.add_producer();
  w.start();
  p.push(session(EventKind::SessionStart, 1, "1:a", 1'000'000));
  p.push(refusal("198.51.100.7", "bad-integrity", 2'000'000));
  for (int i = 0; i < 300 && w.stats().written < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(w.stats().written, 2u);
  {
    auto db = open_rw();
    ASSERT_EQ(db.exec("CREATE TRIGGER refuse_folds BEFORE UPDATE ON refusals BEGIN"
                      " SELECT RAISE(ABORT, 'test: folds refused'); END"),
              SQLITE_OK);
  }
  // In the failing transactions: refusals that fold into the committed row, one the cap
  // counts without a row (same second, another source), a session that ends and one that
  // starts and ends.
  for (int i = 1; i <= 3; ++i) p.push(refusal("198.51.100.7", "bad-integrity", 2'000'000 + i));
  p.push(refusal("198.51.100.8", "bad-integrity", 2'000'500));
  p.push(session(EventKind::SessionEnd, 1, "1:a", 1'000'100, 10));
  p.push(session(EventKind::SessionStart, 2, "1:b", 1'000'200));
  p.push(session(EventKind::SessionEnd, 2, "1:b", 1'000'300, 20));
  // Two failed attempts at least (the writer retries a second after a failure).
  bool refused = false;
  for (int i = 0; i < 300 && !refused; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    refused = w.stats().last_error.find("folds refused") != std::string::npos;
  }
  ASSERT_TRUE(refused);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(w.stats().written, 2u);
  {
    auto db = open_rw();
    ASSERT_EQ(db.exec("DROP TRIGGER refuse_folds"), SQLITE_OK);
  }
  for (int i = 0; i < 300 && w.stats().written < 9; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  w.stop();
  EXPECT_EQ(w.stats().written, 9u);
  EXPECT_EQ(w.stats().dropped, 0u);
  // The folds went into the committed row, not into a new one; the capped refusal was counted
  // once, not once per attempt.
  EXPECT_EQ(count("SELECT count(*) FROM refusals"), 1);
  EXPECT_EQ(count("SELECT count FROM refusals WHERE client_ip = '198.51.100.7'"), 4);
  EXPECT_EQ(w.stats().refusals_folded, 1u);
  EXPECT_EQ(count("SELECT refusals_folded FROM ledger_health"), 1);
  // Each session is one row, ended.
  EXPECT_EQ(count("SELECT count(*) FROM sessions"), 2);
  EXPECT_EQ(count("SELECT count(*) FROM sessions WHERE ended_at IS NOT NULL"), 2);
  EXPECT_EQ(count("SELECT bytes_from_client FROM sessions WHERE sid = '0000000000000002'"), 20);
}

}  // namespace
}  // namespace turnpike::ledger
