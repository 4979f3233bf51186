// The ledger's cost at a given event rate (issue: "at 10,000 session events per second the ledger
// costs under 1% of one core and its queue never overflows").
//
// Worker threads produce the events a relay produces, at a fixed total rate, into their rings as
// net::LedgerSink does; the real LedgerWriter writes them to a real SQLite file. Measured: CPU of
// the writer thread (its own thread clock, reported by the writer), the producers' cost per event
// pushed, ring drops, and whether every row arrived.
//
// Then the floor, as the relay benchmarks have one: the CPU SQLite itself needs to append one
// bare row (five columns, no index, a prepared statement, the writer's pragmas and transaction
// size) on this machine. A ledger that writes at least one row per event cannot cost less.
//
//   turnpike-ledger-bench [--rate N] [--seconds S] [--workers W] [--dir DIR] [--json]
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "ledger/ledger_writer.h"
#include "ledger/sqlite_db.h"

using namespace turnpike;

namespace {

double thread_cpu_s() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + double(t.tv_nsec) / 1e9;
}

int64_t wall_ms() {
  timespec t{};
  clock_gettime(CLOCK_REALTIME, &t);
  return int64_t(t.tv_sec) * 1000 + t.tv_nsec / 1'000'000;
}

double mono_s() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return double(t.tv_sec) + double(t.tv_nsec) / 1e9;
}

// The events of one session as the relay emits them: start, then peers and end (a third each),
// and every tenth "session" is a refusal instead (bad credentials from one of many sources).
// Built in place in reused records, as net::LedgerSink does, and pushed.
struct Scratch {
  ledger::SessionStart start;
  ledger::SessionPeers peers;
  ledger::SessionEnd end;
  ledger::Refusal refusal;
};

void fill_identity(ledger::SessionIdentity& s, uint64_t session, int64_t at_ms) {
  s.started_ms = at_ms - 1000;
  s.transport.set("udp");
  char user[64];
  std::snprintf(user, sizeof user, "%llu:user%llu@meet.example",
                static_cast<unsigned long long>(1'800'000'000 + session % 97),
                static_cast<unsigned long long>(session % 1000));
  s.username.set(user);
  s.client = core::SocketAddress(core::IpAddress::v4(0xC6336400u + uint32_t(session % 250)),
                                 uint16_t(40000 + session % 20000));
  s.relay =
      core::SocketAddress(core::IpAddress::v4(0xCB007101u), uint16_t(49152 + session % 16000));
  s.has_relay = true;
}

void push_event(ledger::Producer& p, Scratch& x, uint64_t n, unsigned worker) {
  const uint64_t session = n / 3;
  const ledger::EventHead head{{}, (uint64_t(worker + 1) << 56) | session, wall_ms()};
  if (session % 10 == 9) {
    ledger::Refusal& r = x.refusal;
    r.head = head;
    r.head.sid = 0;
    r.client = core::SocketAddress(core::IpAddress::v4(0xC6336400u + uint32_t(session % 250)),
                                   uint16_t(40000 + session % 20000));
    r.transport.set("udp");
    r.method.set("Allocate");
    r.code = 401;
    r.reason.set("bad-integrity");
    r.username.set("1800000000:mallory@meet.example");
    r.detail.set("MESSAGE-INTEGRITY matches no static-auth-secret");
    p.push(r);
    return;
  }
  const ledger::SessionCounters counters{120000, 1000, 118000, 990};
  switch (n % 3) {
    case 0:
      x.start.head = head;
      fill_identity(x.start.session, session, head.at_ms);
      p.push(x.start);
      break;
    case 1:
      x.peers.head = head;
      x.peers.count = 1;
      x.peers.peers[0] = {core::IpAddress::v4(0xCB007163u), 120000, 1000, 118000, 990};
      p.push(x.peers);
      break;
    default:
      x.end.head = head;
      x.end.counters = counters;
      x.end.end_reason.set("refresh-0");
      fill_identity(x.end.session, session, head.at_ms);
      p.push(x.end);
  }
}

// CPU per row appended to a table with no index, in transactions of `batch` rows.
double sqlite_floor_us_per_row(const std::string& path, int rows, int batch) {
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  std::string err;
  auto db = ledger::Database::open(path, ledger::Database::Mode::ReadWrite, 5000, &err);
  if (!db ||
      db->exec("CREATE TABLE t (id INTEGER PRIMARY KEY, node TEXT, username TEXT, client_ip TEXT, "
               "client_port INTEGER, started_at INTEGER)") != SQLITE_OK) {
    std::fprintf(stderr, "floor: %s\n", err.c_str());
    return 0;
  }
  ledger::Statement st = db->prepare(
      "INSERT INTO t (node, username, client_ip, client_port, started_at) VALUES (?, ?, ?, ?, ?)");
  const double c0 = thread_cpu_s();
  for (int n = 0; n < rows;) {
    db->exec("BEGIN IMMEDIATE");
    for (int i = 0; i < batch && n < rows; ++i, ++n) {
      char user[64];
      std::snprintf(user, sizeof user, "%d:user%d@meet.example", 1'800'000'000 + n % 97, n % 1000);
      st.bind_static(1, "bench").bind(2, std::string_view(user)).bind_static(3, "198.51.100.7");
      st.bind(4, int64_t(40000 + n % 20000)).bind(5, wall_ms());
      st.step();
      st.reset();
    }
    db->exec("COMMIT");
  }
  const double us = 1e6 * (thread_cpu_s() - c0) / rows;
  st = ledger::Statement();
  db.reset();
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  return us;
}

}  // namespace

int main(int argc, char** argv) {
  double rate = 10000, seconds = 10;
  int flush_ms = -1;
  unsigned workers = 2;
  bool json = false;
  std::string dir = "/tmp";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--rate")
      rate = std::stod(next());
    else if (a == "--seconds")
      seconds = std::stod(next());
    else if (a == "--workers")
      workers = unsigned(std::stoul(next()));
    else if (a == "--dir")
      dir = next();
    else if (a == "--json")
      json = true;
    else if (a == "--flush-ms")
      flush_ms = std::stoi(next());
    else {
      std::fprintf(
          stderr,
          "usage: %s [--rate N] [--seconds S] [--workers W] [--dir DIR] [--flush-ms MS] [--json]\n",
          argv[0]);
      return 2;
    }
  }
  const std::string path = dir + "/turnpike-ledger-bench-" + std::to_string(getpid()) + ".db";
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);

  ledger::WriterOptions o;
  o.path = path;
  o.node = "bench";
  o.realm = "meet.example";
  if (flush_ms > 0) o.flush_interval_ms = flush_ms;
  ledger::LedgerWriter writer(o, [](bool error, const std::string& m) {
    if (error) std::fprintf(stderr, "ledger: %s\n", m.c_str());
  });
  std::vector<ledger::Producer*> producers;
  for (unsigned w = 0; w < workers; ++w) producers.push_back(&writer.add_producer());
  writer.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // file created, schema applied

  const double writer_cpu0 = writer.stats().cpu_seconds;  // opening and migrating the file
  const double t0 = mono_s();
  std::atomic<uint64_t> produced{0};
  std::atomic<uint64_t> push_ns_total{0};
  std::vector<std::thread> threads;
  for (unsigned w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      const double per_worker = rate / workers;
      const uint64_t total = uint64_t(per_worker * seconds);
      Scratch x;
      for (uint64_t n = 0; n < total; ++n) {
        // Paced like a worker thread that produces events as sessions come and go.
        const double due = t0 + double(n) / per_worker;
        for (double now = mono_s(); now < due; now = mono_s()) {
          std::this_thread::sleep_for(std::chrono::microseconds(int64_t((due - now) * 1e6) + 1));
        }
        push_event(*producers[w], x, n, w);
      }
      produced += total;
    });
  }
  for (auto& t : threads) t.join();
  const double elapsed = mono_s() - t0;
  writer.stop();  // writes what is still queued: part of the cost
  const auto st = writer.stats();
  const double writer_cpu = st.cpu_seconds - writer_cpu0;

  // A worker's share: building an event as net::LedgerSink does and pushing it, timed over a
  // tight loop (the paced loop above would mostly time the clock calls).
  constexpr uint64_t kTimedPushes = 10000;
  {
    ledger::Producer spare(size_t(8) << 20);  // room for them all: no backlog
    Scratch x;
    const double c0 = thread_cpu_s();
    for (uint64_t n = 0; n < kTimedPushes; ++n) push_event(spare, x, n, 0);
    push_ns_total = uint64_t((thread_cpu_s() - c0) * 1e9);
  }

  // Everything arrived? Count rows.
  std::string err;
  auto db = ledger::Database::open(path, ledger::Database::Mode::ReadOnly, 5000, &err);
  int64_t sessions = 0, refusal_rows = 0, refusals = 0;
  if (db) {
    ledger::Statement s = db->prepare("SELECT count(*) FROM sessions");
    if (s && s.step() == SQLITE_ROW) sessions = s.int_at(0);
    ledger::Statement r = db->prepare("SELECT count(*), coalesce(sum(count), 0) FROM refusals");
    if (r && r.step() == SQLITE_ROW) {
      refusal_rows = r.int_at(0);
      refusals = r.int_at(1);
    }
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);

  // The floor: as many bare rows as there were events, in transactions as big as the writer's
  // at this rate (one commit per flush interval).
  const double events = double(produced.load());
  const int floor_batch =
      int(rate * o.flush_interval_ms / 1000.0) > 0 ? int(rate * o.flush_interval_ms / 1000.0) : 1;
  const double floor_us = sqlite_floor_us_per_row(path, int(events), floor_batch);

  const double achieved = events / elapsed;
  const double writer_pct = 100.0 * writer_cpu / elapsed;
  const double push_ns = double(push_ns_total.load()) / double(kTimedPushes);
  if (json) {
    std::printf(
        "{\"rate\":%.0f,\"seconds\":%.2f,\"events\":%.0f,\"writer_cpu_s\":%.4f,\"writer_core_"
        "percent\":%.3f,"
        "\"writer_us_per_event\":%.3f,\"push_ns_per_event\":%.0f,\"written\":%llu,\"dropped\":%llu,"
        "\"sessions\":%lld,\"refusal_rows\":%lld,\"refusals\":%lld,\"sqlite_floor_us_per_row\":%."
        "3f}\n",
        achieved, elapsed, events, writer_cpu, writer_pct, 1e6 * writer_cpu / events, push_ns,
        static_cast<unsigned long long>(st.written), static_cast<unsigned long long>(st.dropped),
        static_cast<long long>(sessions), static_cast<long long>(refusal_rows),
        static_cast<long long>(refusals), floor_us);
  } else {
    std::printf("events produced: %.0f in %.1f s (%.0f/s by %u workers)\n", events, elapsed,
                achieved, workers);
    std::printf("ledger writer:   %.3f s CPU = %.3f%% of one core, %.2f us per event\n", writer_cpu,
                writer_pct, 1e6 * writer_cpu / events);
    std::printf("producers:       %.0f ns per event pushed\n", push_ns);
    std::printf(
        "written %llu, dropped %llu; rows: %lld sessions, %lld refusal rows for %lld refusals\n",
        static_cast<unsigned long long>(st.written), static_cast<unsigned long long>(st.dropped),
        static_cast<long long>(sessions), static_cast<long long>(refusal_rows),
        static_cast<long long>(refusals));
    std::printf(
        "SQLite floor:    %.2f us per bare row appended (%d-row transactions) = %.2f%% of one core "
        "at %.0f rows/s\n",
        floor_us, floor_batch, floor_us * achieved / 1e4, achieved);
  }
  return st.dropped == 0 ? 0 : 1;
}
