// LedgerSink (net/ledger_sink.h) with the real LedgerWriter and a real SQLite file: a worker
// holding 100,000 allocations hands their progress over a 30-tick interval with the default
// settings and nothing is dropped; each tick carries a thirtieth of the sessions.
#include "net/ledger_sink.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "ledger/ledger_writer.h"
#include "ledger/sqlite_db.h"
#include "relay/allocation.h"

namespace turnpike::net {
namespace {

namespace fs = std::filesystem;

class LedgerSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::path(::testing::TempDir()) /
          ("ledger-sink-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
    path = (dir / "ledger.db").string();
  }
  void TearDown() override { fs::remove_all(dir); }

  ledger::WriterOptions options() const {
    ledger::WriterOptions o;  // the defaults, as the daemon has them
    o.path = path;
    o.node = "test-node";
    o.realm = "test.realm";
    return o;
  }

  int64_t count(const std::string& sql) {
    std::string err;
    auto db = ledger::Database::open(path, ledger::Database::Mode::ReadOnly, 5000, &err);
    EXPECT_TRUE(db) << err;
    ledger::Statement s = db->prepare(sql);
    EXPECT_TRUE(s) << sql;
    EXPECT_EQ(s.step(), SQLITE_ROW);
    return s.int_at(0);
  }

  static std::unique_ptr<relay::Allocation> allocation(uint32_t i, int64_t unix_ms) {
    auto a = std::make_unique<relay::Allocation>();
    a->id = (uint64_t(1) << 56) | i;
    a->username = "1800000000:user" + std::to_string(i) + "@meet.example";
    a->five_tuple.client =
        core::SocketAddress(core::IpAddress::v4(0x0A000000u + i), uint16_t(1024 + i % 60000));
    a->five_tuple.server = *core::SocketAddress::parse("192.0.2.1:3478");
    a->relays[0].bound = a->relays[0].announced =
        core::SocketAddress(core::IpAddress::v4(0xC0000201u), uint16_t(49152 + i % 16000));
    a->relay_count = 1;
    a->started_unix_ms = unix_ms;
    relay::Permission p;
    p.peer = core::IpAddress::v4(0xCB007163u);  // the videobridge, as for a Jitsi client
    a->permissions.insert(p);
    return a;
  }

  relay::Now now() const {
    timespec t{};
    clock_gettime(CLOCK_REALTIME, &t);
    return {int64_t(t.tv_sec) * 1000, int64_t(t.tv_sec) * 1000 + t.tv_nsec / 1'000'000};
  }

  fs::path dir;
  std::string path;
};

TEST_F(LedgerSinkTest, AHundredThousandAllocationsProgressWithoutADrop) {
  constexpr uint32_t kAllocations = 100'000;
  std::vector<std::string> errors;
  ledger::LedgerWriter writer(options(), [&](bool error, const std::string& m) {
    if (error) errors.push_back(m);  // only the writer thread logs, and only until stop()
  });
  ledger::Producer& producer = writer.add_producer();
  writer.start();
  LedgerSink sink(producer);

  // The allocations arrive over ten ticks (10,000 each), as a worker sees clients allocate.
  std::vector<std::unique_ptr<relay::Allocation>> allocations;
  allocations.reserve(kAllocations);
  for (uint32_t step = 0; step < 10; ++step) {
    const relay::Now t = now();
    for (uint32_t i = step * 10'000; i < (step + 1) * 10'000; ++i) {
      allocations.push_back(allocation(i, t.unix_ms));
      sink.session_started(*allocations.back(), t);
    }
    producer.flush();  // as the worker's tick does (its progress comes below)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(sink.sessions(), kAllocations);

  // They relay: counters distinct per allocation, then one whole progress interval. The ticks
  // come ten times faster than the daemon's (100 ms, not a second), which only makes the
  // writer's job harder.
  for (uint32_t i = 0; i < kAllocations; ++i) {
    relay::Allocation& a = *allocations[i];
    a.from_client = {1000 + uint64_t(i), 10};
    a.to_client = {2000 + uint64_t(i), 20};
    relay::Permission& p = *a.find_permission(core::IpAddress::v4(0xCB007163u));
    p.to_peer = {1000 + uint64_t(i), 10};
    p.from_peer = {2000 + uint64_t(i), 20};
  }
  for (unsigned tick = 0; tick < LedgerSink::kProgressTicks; ++tick) {
    sink.tick(now());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // Until the writer has it all; what waits in the backlog moves on at every tick, as here.
  for (int i = 0; i < 1200 && writer.stats().written < kAllocations * 3; ++i) {
    producer.flush();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const ledger::WriterStats progress = writer.stats();
  EXPECT_EQ(progress.dropped, 0u);
  EXPECT_EQ(progress.written, kAllocations * 3);  // a start, an update and the peers of each

  // Stopping: every session ends, waiting for room within the shutdown's deadline.
  sink.set_shutting_down(std::chrono::steady_clock::now() + std::chrono::seconds(60));
  const relay::Now t = now();
  for (auto& a : allocations) sink.session_ended(*a, relay::EndReason::Shutdown, t);
  writer.stop();
  const ledger::WriterStats done = writer.stats();
  EXPECT_EQ(done.dropped, 0u);
  EXPECT_EQ(done.written, kAllocations * 5);
  EXPECT_TRUE(errors.empty()) << errors.front();

  EXPECT_EQ(count("SELECT count(*) FROM sessions"), kAllocations);
  // Every session's row has its own counters from the progress interval and its end.
  EXPECT_EQ(count("SELECT count(*) FROM sessions WHERE end_reason = 'shutdown'"
                  " AND bytes_from_client = 1000 + (id - (SELECT min(id) FROM sessions))"
                  " AND bytes_to_client = bytes_from_client + 1000"),
            kAllocations);
  EXPECT_EQ(count("SELECT count(*) FROM session_peers p JOIN sessions s ON s.id = p.session_id"
                  " WHERE p.bytes_to_peer = s.bytes_from_client AND p.bytes_from_peer ="
                  " s.bytes_to_client"),
            kAllocations);
  EXPECT_EQ(count("SELECT events_dropped FROM ledger_health"), 0);
}

// A session that ends leaves its progress group; the others keep theirs.
TEST_F(LedgerSinkTest, EndedSessionsLeaveTheProgressSchedule) {
  ledger::LedgerWriter writer(options(), [](bool, const std::string&) {});
  ledger::Producer& producer = writer.add_producer();
  LedgerSink sink(producer);
  std::vector<std::unique_ptr<relay::Allocation>> allocations;
  const relay::Now t = now();
  for (uint32_t i = 0; i < 90; ++i) {
    allocations.push_back(allocation(i, t.unix_ms));
    sink.session_started(*allocations.back(), t);
  }
  for (uint32_t i = 0; i < 90; i += 3) sink.session_ended(*allocations[i], relay::EndReason::Expired, t);
  EXPECT_EQ(sink.sessions(), 60u);
  producer.ring.drain([](const ledger::RecordHeader&, const std::byte*) {});
  // One interval: each remaining session's update (and its peer record) exactly once, and no
  // tick with more than its group (90 started round robin over 30 groups: three each at most).
  std::vector<uint64_t> updated;
  for (unsigned tick = 0; tick < LedgerSink::kProgressTicks; ++tick) {
    sink.tick(t);
    size_t updates = 0, peers = 0;
    producer.ring.drain([&](const ledger::RecordHeader& h, const std::byte* r) {
      ledger::LedgerEvent e;
      ASSERT_TRUE(ledger::decode_event(h, r, e));
      if (auto* u = std::get_if<ledger::SessionUpdate>(&e)) {
        updated.push_back(u->head.sid & 0xFFFF);
        ++updates;
      }
      peers += std::holds_alternative<ledger::SessionPeers>(e);
    });
    EXPECT_LE(updates, 3u) << "tick " << tick;
    EXPECT_EQ(peers, updates);
  }
  std::sort(updated.begin(), updated.end());
  std::vector<uint64_t> expected;
  for (uint64_t i = 0; i < 90; ++i) {
    if (i % 3) expected.push_back(i);
  }
  EXPECT_EQ(updated, expected);
}

}  // namespace
}  // namespace turnpike::net
