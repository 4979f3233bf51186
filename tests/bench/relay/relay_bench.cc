// The relay layer alone at scale (BENCHMARKS.md "Relay layer at scale"): one relay::Server, no
// sockets, time passed in, N allocations (1,000 / 100,000 / 1,000,000 by default), each with one
// permission and one channel bound, as a Jitsi client holds them. Measures
//   - ns per ChannelData from a client (5-tuple lookup, channel by number, permission by peer),
//   - ns per peer datagram (permission by peer, channel by peer, header written in place),
//     each for the same allocation over and over (the algorithm, in cache) and for allocations
//     chosen at random (what memory adds as the tables outgrow the caches);
//   - CPU per idle tick and timers looked at per tick (TimerWheel::visits);
//   - heap bytes per allocation (mallinfo2), and setup time per allocation.
// Usage: turnpike-relay-bench [N ...]. Prints one markdown row and one RESULT {json} per N.
#include <malloc.h>
#include <time.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/channel_data.h"
#include "core/random.h"
#include "core/stun_writer.h"
#include "relay/server.h"

using namespace turnpike;
using namespace turnpike::relay;

namespace {

struct CountingIo : RelayIo {
  uintptr_t next = 1;
  uint64_t to_peer = 0;
  uint64_t to_client = 0;
  OpenRelayResult open_relay(Allocation&, uint8_t, const OpenRelayRequest& r) override {
    OpenRelayResult res;
    res.socket = reinterpret_cast<RelaySocket*>(next++);
    res.bound = SocketAddress(r.bind_ip, uint16_t(49152 + next % 16384));
    return res;
  }
  void close_relay(RelaySocket*) override {}
  void send_to_peer(RelaySocket*, const SocketAddress&, core::Bytes p) override {
    to_peer += p.size();
  }
  void send_to_client(const ClientRef&, core::Bytes m) override { to_client += m.size(); }
  PeerConnection* connect_peer(uint32_t, const SocketAddress&, const SocketAddress&) override {
    return nullptr;
  }
  void bind_peer(PeerConnection*, const ClientRef&) override {}
  void close_peer(PeerConnection*) override {}
  bool move_client(const ClientRef&, uint8_t, core::Bytes) override { return false; }
};

struct NullEvents : EventSink {
  void session_started(const Allocation&, const Now&) override {}
  void session_ended(const Allocation&, EndReason, const Now&) override {}
  void refused(const Refusal&) override {}
};

double thread_cpu_ns() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) * 1e9 + double(t.tv_nsec);
}

double wall_ns() {
  return double(std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::steady_clock::now().time_since_epoch())
                    .count());
}

size_t heap_in_use() { return mallinfo2().uordblks; }

SocketAddress client_of(uint32_t i) {
  // 10.0.0.0/8 addresses, 16 ports each: distinct 5-tuples for up to 268 million allocations.
  return SocketAddress(IpAddress::v4(0x0A000000u + (i >> 4)), uint16_t(40000 + (i & 15)));
}

struct Result {
  uint32_t n;
  double setup_us;
  double bytes_per_allocation;
  double channel_data_hot_ns, channel_data_random_ns;
  double peer_hot_ns, peer_random_ns;
  double tick_ns;
  double tick_visits;
};

Result run(uint32_t n) {
  Settings settings;
  settings.relay_addresses = {*IpAddress::parse("192.0.2.1")};
  settings.unauth_rate = 0;  // a million sources: no per-source limiter in the way
  PeerPolicy policy;
  core::NonceCodec nonces{std::array<uint8_t, 32>{}};
  CountingIo io;
  NullEvents events;
  QuotaBook quotas{0, 0};
  ConnectionIds ids;
  core::SeededRandom random{n};
  auto creds = std::make_shared<Credentials>();
  creds->no_auth = true;  // what is measured is the relay path, not HMACs
  const SocketAddress server_addr = *SocketAddress::parse("192.0.2.1:3478");
  const SocketAddress peer = *SocketAddress::parse("203.0.113.9:10000");

  const size_t heap_before = heap_in_use();
  auto server = std::make_unique<Server>(settings, policy, creds, nonces, io, events, quotas, ids,
                                         1, random);
  Now now{1'000'000, 1'800'000'000'000};
  std::vector<FiveTuple> tuples(n);
  std::array<uint8_t, 512> buf{};
  uint8_t txid[12] = {};
  const double setup_start = wall_ns();
  for (uint32_t i = 0; i < n; ++i) {
    const FiveTuple t{client_of(i), server_addr, Transport::Udp};
    tuples[i] = t;
    const ClientRef ref{nullptr, t.client};
    std::memcpy(txid, &i, 4);
    txid[4] = 1;
    core::StunWriter a(core::MutableBytes(buf.data(), buf.size()), core::Method::Allocate,
                       core::MessageClass::Request, txid);
    const uint8_t udp[4] = {17, 0, 0, 0};
    a.add(core::attr::RequestedTransport, core::Bytes(udp, 4));
    a.add_u32(core::attr::Lifetime, 3600);
    server->on_client_packet(ref, t, a.bytes(), now);
    txid[4] = 2;
    core::StunWriter c(core::MutableBytes(buf.data(), buf.size()), core::Method::ChannelBind,
                       core::MessageClass::Request, txid);
    const uint8_t ch[4] = {0x40, 0x01, 0, 0};
    c.add(core::attr::ChannelNumber, core::Bytes(ch, 4));
    c.add_xor_address(core::attr::XorPeerAddress, peer);
    server->on_client_packet(ref, t, c.bytes(), now);
  }
  const double setup_us = (wall_ns() - setup_start) / 1e3 / n;
  std::vector<Allocation*> allocations(n);
  for (uint32_t i = 0; i < n; ++i) {
    allocations[i] = server->find(tuples[i]);
    if (!allocations[i] || !allocations[i]->find_channel(0x4001)) {
      std::fprintf(stderr, "allocation %u was not set up\n", i);
      std::exit(1);
    }
  }
  const double bytes_per_allocation =
      double(heap_in_use() - heap_before) / n - double(sizeof(FiveTuple) + sizeof(Allocation*));

  // The packets. A random order over all allocations, fixed in advance (an LCG, no modulo bias
  // worth mentioning at these sizes), so only the relay's own work is timed.
  constexpr uint32_t kPackets = 2'000'000;
  std::vector<uint32_t> order(kPackets);
  uint64_t x = 88172645463325252ull;
  for (auto& o : order) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    o = uint32_t(x % n);
  }
  std::array<uint8_t, 4 + 160> cd{};
  core::write_channel_data_header(cd.data(), 0x4001, 160);
  const core::Bytes cd_bytes(cd.data(), cd.size());
  std::array<uint8_t, Server::kHeadroom + 160 + Server::kTailroom> pbuf{};
  uint8_t* payload = pbuf.data() + Server::kHeadroom;

  auto time_per = [&](auto&& body) {
    const double t0 = thread_cpu_ns();
    for (uint32_t k = 0; k < kPackets; ++k) body(k);
    return (thread_cpu_ns() - t0) / kPackets;
  };
  const ClientRef ref0{nullptr, tuples[0].client};
  const double cd_hot =
      time_per([&](uint32_t) { server->on_client_packet(ref0, tuples[0], cd_bytes, now); });
  const double cd_random = time_per([&](uint32_t k) {
    const FiveTuple& t = tuples[order[k]];
    server->on_client_packet(ClientRef{nullptr, t.client}, t, cd_bytes, now);
  });
  const double peer_hot =
      time_per([&](uint32_t) { server->on_peer_packet(*allocations[0], 0, peer, payload, 160, now); });
  const double peer_random = time_per([&](uint32_t k) {
    server->on_peer_packet(*allocations[order[k]], 0, peer, payload, 160, now);
  });
  if (io.to_peer != uint64_t(2) * kPackets * 160) {
    std::fprintf(stderr, "ChannelData not all relayed: %llu bytes\n",
                 static_cast<unsigned long long>(io.to_peer));
    std::exit(1);
  }

  // Ticks with nothing due (permissions last 300 s, channels 600 s, allocations an hour).
  constexpr int kTicks = 200;
  const uint64_t visits_before = server->timer_visits();
  const double t0 = thread_cpu_ns();
  for (int k = 0; k < kTicks; ++k) {
    now.mono_ms += 1000;
    now.unix_ms += 1000;
    server->tick(now);
  }
  const double tick_ns = (thread_cpu_ns() - t0) / kTicks;
  const double tick_visits = double(server->timer_visits() - visits_before) / kTicks;
  if (server->allocation_count() != n) std::exit(1);

  return Result{n,        setup_us,    bytes_per_allocation, cd_hot, cd_random,
                peer_hot, peer_random, tick_ns,              tick_visits};
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<uint32_t> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(uint32_t(std::strtoul(argv[i], nullptr, 10)));
  if (sizes.empty()) sizes = {1'000, 100'000, 1'000'000};
  std::vector<Result> results;
  std::printf("| allocations | ChannelData ns (same / random allocation) | peer datagram ns (same / "
              "random) | idle tick ns | timers looked at per tick | heap B per allocation | "
              "setup us per allocation |\n|---|---|---|---|---|---|---|\n");
  for (uint32_t n : sizes) {
    const Result r = run(n);
    results.push_back(r);
    std::printf("| %u | %.1f / %.1f | %.1f / %.1f | %.0f | %.2f | %.0f | %.2f |\n", r.n,
                r.channel_data_hot_ns, r.channel_data_random_ns, r.peer_hot_ns, r.peer_random_ns,
                r.tick_ns, r.tick_visits, r.bytes_per_allocation, r.setup_us);
    std::printf(
        "RESULT {\"allocations\": %u, \"channel_data_hot_ns\": %.2f, \"channel_data_random_ns\": "
        "%.2f, \"peer_hot_ns\": %.2f, \"peer_random_ns\": %.2f, \"idle_tick_ns\": %.1f, "
        "\"tick_visits\": %.3f, \"heap_bytes_per_allocation\": %.1f, \"setup_us\": %.3f}\n",
        r.n, r.channel_data_hot_ns, r.channel_data_random_ns, r.peer_hot_ns, r.peer_random_ns,
        r.tick_ns, r.tick_visits, r.bytes_per_allocation, r.setup_us);
    std::fflush(stdout);
  }
  if (results.size() > 1) {
    const Result& a = results.front();
    const Result& b = results.back();
    std::printf("ratio %u/%u: ChannelData same %.2f random %.2f; peer same %.2f random %.2f; "
                "idle tick %.2f; heap per allocation %.2f\n",
                b.n, a.n, b.channel_data_hot_ns / a.channel_data_hot_ns,
                b.channel_data_random_ns / a.channel_data_random_ns, b.peer_hot_ns / a.peer_hot_ns,
                b.peer_random_ns / a.peer_random_ns, b.tick_ns / a.tick_ns,
                b.bytes_per_allocation / a.bytes_per_allocation);
  }
  return 0;
}
