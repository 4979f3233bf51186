// The whole relay state machine fed arbitrary datagrams from a few client addresses (one of them
// over TCP, so that RFC 6062 TCP allocations, Connect and ConnectionBind are reached too), with
// authentication off so that fuzzed requests reach every handler.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

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
  uint32_t last_connect = 0;
  PeerConnection* connect_peer(uint32_t id, const SocketAddress&, const SocketAddress&) override {
    last_connect = id;
    return reinterpret_cast<PeerConnection*>(uintptr_t(next++));
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

struct World {
  Settings settings;
  PeerPolicy policy;
  core::NonceCodec nonces{std::array<uint8_t, 32>{}};
  NullIo io;
  NullEvents events;
  QuotaBook quotas{0, 0};
  core::SeededRandom random{1};  // the same run for the same input
  ConnectionIds connection_ids{random};
  std::unique_ptr<Server> server;
  World() {
    settings.relay_addresses = {*IpAddress::parse("192.0.2.1"), *IpAddress::parse("2001:db8::1")};
    auto creds = std::make_shared<Credentials>();
    creds->no_auth = true;
    settings.tcp_relay = true;
    server = std::make_unique<Server>(settings, policy, creds, nonces, io, events, quotas,
                                      connection_ids, 1, random);
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
  const FiveTuple tuple{client, SocketAddress(*IpAddress::parse("192.0.2.1"), 3478),
                        who == 2 ? Transport::Tcp : Transport::Udp};
  const ClientRef ref{nullptr, client};
  if (size > 1) w.server->on_client_packet(ref, tuple, core::Bytes(data + 1, size - 1), now);
  // A Connect's outcome, and bytes on its connection.
  if (w.io.last_connect && size > 3) {
    const uint32_t id = std::exchange(w.io.last_connect, 0);
    w.server->on_peer_connected(id, (data[size - 1] & 1) != 0, now);
    w.server->on_tcp_relayed(id, data[size - 2], data[size - 3]);
    if (data[size - 1] & 2) w.server->on_peer_closed(id, now);
  }
  // Peer data for whatever allocation exists, into a buffer with the required head/tailroom.
  if (Allocation* a = w.server->find(tuple); a && size > 2) {
    static uint8_t buf[Server::kHeadroom + 2048 + Server::kTailroom];
    const size_t n = std::min<size_t>(size, 2048);
    std::memcpy(buf + Server::kHeadroom, data, n);
    w.server->on_peer_packet(*a, 0, SocketAddress(*IpAddress::parse("203.0.113.9"), 9),
                             buf + Server::kHeadroom, n, now);
  }
  if (t % 1000 == 0) w.server->tick(Now{t + 700'000, 1'800'000'000'000 + t});
  return 0;
}
