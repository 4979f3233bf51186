// The whole relay state machine fed arbitrary datagrams from a few client addresses, with
// authentication off so that fuzzed requests reach every handler.
#include <cstring>
#include <memory>

#include "relay/allocation.h"
#include "relay/server.h"

using namespace turnpike;
using namespace turnpike::relay;

namespace {

struct NullIo : RelayIo {
  int next = 1;
  OpenRelayResult open_relay(Allocation&, uint8_t, const OpenRelayRequest& r) override {
    OpenRelayResult res;
    res.socket = reinterpret_cast<RelaySocket*>(uintptr_t(next++));
    res.bound = SocketAddress(r.bind_ip, uint16_t(50000 + next));
    return res;
  }
  void close_relay(RelaySocket*) override {}
  void send_to_peer(RelaySocket*, const SocketAddress&, core::Bytes) override {}
  void send_to_client(const ClientRef&, core::Bytes) override {}
};

struct NullEvents : EventSink {
  void session_started(const Allocation&, const Now&) override {}
  void session_ended(const Allocation&, EndReason, const Now&) override {}
  void refused(const Refusal&) override {}
};

struct World {
  Settings settings;
  PeerPolicy policy;
  core::NonceCodec nonces{std::array<uint8_t, 32>{}};
  NullIo io;
  NullEvents events;
  QuotaBook quotas{0, 0};
  std::unique_ptr<Server> server;
  World() {
    settings.relay_addresses = {*IpAddress::parse("192.0.2.1"), *IpAddress::parse("2001:db8::1")};
    auto creds = std::make_shared<Credentials>();
    creds->no_auth = true;
    server = std::make_unique<Server>(settings, policy, creds, nonces, io, events, quotas, 1);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World w;
  static int64_t t = 1000;
  t += 10;
  const Now now{t, 1'800'000'000'000 + t};
  const uint8_t who = size ? data[0] % 3 : 0;
  const SocketAddress client(*IpAddress::parse("198.51.100.7"), uint16_t(40000 + who));
  const FiveTuple tuple{client, SocketAddress(*IpAddress::parse("192.0.2.1"), 3478), Transport::Udp};
  const ClientRef ref{nullptr, client};
  if (size > 1) w.server->on_client_packet(ref, tuple, core::Bytes(data + 1, size - 1), now);
  // Peer data for whatever allocation exists, into a buffer with the required head/tailroom.
  if (Allocation* a = w.server->find(tuple); a && size > 2) {
    static uint8_t buf[Server::kHeadroom + 2048 + Server::kTailroom];
    const size_t n = std::min<size_t>(size, 2048);
    std::memcpy(buf + Server::kHeadroom, data, n);
    w.server->on_peer_packet(*a, 0, SocketAddress(*IpAddress::parse("203.0.113.9"), 9), buf + Server::kHeadroom, n, now);
  }
  if (t % 1000 == 0) w.server->tick(Now{t + 700'000, 1'800'000'000'000 + t});
  return 0;
}
