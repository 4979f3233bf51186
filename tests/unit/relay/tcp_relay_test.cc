// RFC 6062 TCP relay: TCP allocations (§5.1), Connect (§5.2), peers connecting to the relayed
// address (§5.3), ConnectionBind (§5.4), the 30 s timers, and what goes with the allocation.
#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "relay_fixture.h"

#include "core/message_integrity.h"

namespace turnpike::relay::test {
namespace {

class TcpRelay : public RelayTest {
 protected:
  static constexpr uint8_t kTcp[4] = {6, 0, 0, 0};
  static constexpr const char* kPeer = "203.0.113.9:8080";

  void SetUp() override {
    RelayTest::SetUp();
    settings.tcp_relay = true;
    transport = Transport::Tcp;
    start(0, 0);
  }

  Response allocate_tcp(const AttrWriter& extra = nullptr) {
    return request(Method::Allocate, [&](core::StunWriter& w) {
      w.add(attr::RequestedTransport, core::Bytes(kTcp, 4));
      if (extra) extra(w);
    });
  }

  // A signed request whose answer may come later (Connect) or never (a moved ConnectionBind):
  // whatever was sent to the client meanwhile.
  std::vector<Response> send(Method m, const AttrWriter& attrs) {
    if (nonce.empty()) get_nonce();
    auto out = feed(build(m, MessageClass::Request, attrs, true));
    if (out.size() == 1 && out[0].error() == 438) {
      nonce = out[0].text(attr::Nonce);
      out = feed(build(m, MessageClass::Request, attrs, true));
    }
    return out;
  }

  std::vector<Response> connect(const char* peer) {
    auto p = SocketAddress::parse(peer);
    EXPECT_TRUE(p) << peer;
    return send(Method::Connect,
                [&](core::StunWriter& w) { w.add_xor_address(attr::XorPeerAddress, *p); });
  }

  Response connect_error(const char* peer) {
    auto r = connect(peer);
    EXPECT_EQ(r.size(), 1u);
    return r.empty() ? Response({}) : r[0];
  }

  // Messages sent to the client since `before` (io.to_client index).
  std::vector<Response> sent_since(size_t before) {
    std::vector<Response> out;
    for (size_t i = before; i < io.to_client.size(); ++i) out.emplace_back(io.to_client[i].bytes);
    return out;
  }

  // A TCP allocation with a permission for kPeer and an established Connect to it; returns the
  // CONNECTION-ID of the success response.
  uint32_t connected_peer() {
    EXPECT_TRUE(allocate_tcp().ok());
    EXPECT_TRUE(create_permission({"203.0.113.9"}).ok());
    EXPECT_TRUE(connect(kPeer).empty());
    EXPECT_EQ(io.connects.size(), 1u);
    if (io.connects.empty()) return 0;
    const size_t before = io.to_client.size();
    server->on_peer_connected(io.connects.back().id, true, now);
    auto r = sent_since(before);
    EXPECT_EQ(r.size(), 1u);
    if (r.empty()) return 0;
    EXPECT_TRUE(r[0].ok()) << r[0].error();
    EXPECT_EQ(r[0].msg->method(), Method::Connect);
    return r[0].u32(attr::ConnectionId).value_or(0);
  }

  // From here on, requests come from a new TCP connection of the same client host (a data
  // connection, RFC 6062 §4.4), which needs a nonce of its own.
  void open_data_connection(uint16_t port = 41000) {
    control_client = client;
    client = SocketAddress(client.ip(), port);
    nonce.clear();
  }
  void back_to_control_connection() {
    client = control_client;
    nonce.clear();
  }

  static AttrWriter connection_id(uint32_t id) {
    return [id](core::StunWriter& w) {
      uint8_t v[4];
      core::store_be32(v, id);
      w.add(attr::ConnectionId, core::Bytes(v, 4));
    };
  }
  // ConnectionBind, with a fresh nonce if the current one is stale.
  std::vector<Response> connection_bind(uint32_t id) {
    return send(Method::ConnectionBind, connection_id(id));
  }
  // Exactly one ConnectionBind, signed with the current nonce or not signed at all.
  std::vector<Response> connection_bind_once(uint32_t id, bool sign) {
    return feed(build(Method::ConnectionBind, MessageClass::Request, connection_id(id), sign));
  }

  Allocation* control_allocation() {
    return server->find(FiveTuple{control_client, local, Transport::Tcp});
  }

  SocketAddress control_client;
};

// ---- §5.1 Allocate ------------------------------------------------------------------------------

TEST_F(TcpRelay, TcpAllocationOverTcpListensOnTheRelayedAddress) {
  auto r = allocate_tcp();
  ASSERT_TRUE(r.ok()) << r.error();
  ASSERT_EQ(io.opened.size(), 1u);
  EXPECT_TRUE(io.opened[0].tcp);
  ASSERT_NE(allocation(), nullptr);
  EXPECT_TRUE(allocation()->tcp);
  EXPECT_EQ(r.address(attr::XorRelayedAddress)->ip().to_string(), "192.0.2.1");
}

TEST_F(TcpRelay, TcpAllocationOverTlsToo) {
  transport = Transport::Tls;
  EXPECT_TRUE(allocate_tcp().ok());
}

TEST_F(TcpRelay, TcpAllocationOverUdpOrDtlsIs400) {
  // RFC 6062 §5.1 item 2: the client connection must be TCP or TLS.
  for (Transport t : {Transport::Udp, Transport::Dtls}) {
    transport = t;
    nonce.clear();
    EXPECT_EQ(allocate_tcp().error(), 400) << transport_name(t);
  }
  EXPECT_TRUE(io.opened.empty());
}

TEST_F(TcpRelay, NoTcpRelayIs442) {
  settings.tcp_relay = false;  // no-tcp-relay
  start(0, 0);
  EXPECT_EQ(allocate_tcp().error(), 442);
  EXPECT_TRUE(io.opened.empty());
}

TEST_F(TcpRelay, DontFragmentEvenPortAndReservationTokenAre400) {
  EXPECT_EQ(allocate_tcp([](core::StunWriter& w) { w.add_empty(attr::DontFragment); }).error(),
            400);
  EXPECT_EQ(allocate_tcp([](core::StunWriter& w) {
              const uint8_t v[1] = {0};
              w.add(attr::EvenPort, core::Bytes(v, 1));
            }).error(),
            400);
  EXPECT_EQ(allocate_tcp([](core::StunWriter& w) {
              const uint8_t v[8] = {1, 2, 3, 4, 5, 6, 7, 8};
              w.add(attr::ReservationToken, core::Bytes(v, 8));
            }).error(),
            400);
  EXPECT_TRUE(io.opened.empty());
  // A UDP allocation over TCP still takes DONT-FRAGMENT.
  EXPECT_TRUE(allocate([](core::StunWriter& w) { w.add_empty(attr::DontFragment); }).ok());
}

TEST_F(TcpRelay, TcpAllocationHasNoChannelsAndNoSendIndications) {
  ASSERT_TRUE(allocate_tcp().ok());
  ASSERT_TRUE(create_permission({"203.0.113.9"}).ok());
  EXPECT_EQ(channel_bind(0x4001, kPeer).error(), 400);
  send_indication(kPeer, "hello");
  EXPECT_TRUE(io.to_peer.empty());
}

// ---- §5.2 Connect -------------------------------------------------------------------------------

TEST_F(TcpRelay, ConnectIsAnsweredOnceConnectedWithTheConnectionId) {
  ASSERT_TRUE(allocate_tcp().ok());
  ASSERT_TRUE(create_permission({"203.0.113.9"}).ok());
  EXPECT_TRUE(connect(kPeer).empty());  // nothing until the connect is done
  ASSERT_EQ(io.connects.size(), 1u);
  // From the relayed transport address, to the peer.
  EXPECT_EQ(io.connects[0].from, allocation()->relays[0].bound);
  EXPECT_EQ(io.connects[0].peer, *SocketAddress::parse(kPeer));
  const uint32_t id = io.connects[0].id;
  EXPECT_NE(id, 0u);
  EXPECT_EQ(connection_ids.owner(id), uint8_t(1));

  const size_t before = io.to_client.size();
  server->on_peer_connected(id, true, now);
  auto r = sent_since(before);
  ASSERT_EQ(r.size(), 1u);
  ASSERT_TRUE(r[0].ok());
  EXPECT_EQ(r[0].msg->method(), Method::Connect);
  EXPECT_EQ(r[0].u32(attr::ConnectionId), id);
  // Signed with the allocation's key like every authenticated answer.
  const core::LongTermKey key = core::long_term_key(algorithm, username, kRealm, password);
  EXPECT_TRUE(core::verify_message_integrity(*r[0].msg, key.view()));
  ASSERT_NE(server->find_tcp(id), nullptr);
  EXPECT_EQ(server->find_tcp(id)->state, TcpConnection::State::Pending);
}

TEST_F(TcpRelay, ConnectToLoopbackOrUnspecifiedIs403AndConnectsNothing) {
  ASSERT_TRUE(allocate_tcp().ok());
  // CVE-2018-4058, CVE-2020-26262: the peer policy of CreatePermission applies to Connect.
  for (const char* peer :
       {"127.0.0.1:22", "0.0.0.0:22", "0.1.2.3:22", "169.254.169.254:80", "224.0.0.1:80"}) {
    EXPECT_EQ(connect_error(peer).error(), 403) << peer;
  }
  EXPECT_TRUE(io.connects.empty());
  ASSERT_FALSE(events.refused_list.empty());
  EXPECT_EQ(events.refused_list[0].reason, RefusalReason::ForbiddenPeer);
  EXPECT_EQ(events.refused_list[0].detail, "loopback");
  EXPECT_EQ(events.refused_list[1].detail, "unspecified (0.0.0.0/8)");
}

TEST_F(TcpRelay, ConnectToTheServersOwnListenerIs403) {
  policy_options.allowed = {};
  policy_options.own_listeners = {*SocketAddress::parse("192.0.2.1:3478")};
  start(0, 0);
  ASSERT_TRUE(allocate_tcp().ok());
  ASSERT_TRUE(create_permission({"192.0.2.1"}).ok());
  EXPECT_EQ(connect_error("192.0.2.1:3478").error(), 403);
  EXPECT_TRUE(io.connects.empty());
}

TEST_F(TcpRelay, ConnectToLoopbackWithAllowLoopbackStillNeedsAPermission) {
  policy_options.allow_loopback = true;
  start(0, 0);
  ASSERT_TRUE(allocate_tcp().ok());
  EXPECT_EQ(connect_error("127.0.0.1:22").error(), 403);
  ASSERT_TRUE(create_permission({"127.0.0.1"}).ok());
  EXPECT_TRUE(connect("127.0.0.1:22").empty());
  EXPECT_EQ(io.connects.size(), 1u);
}

TEST_F(TcpRelay, ConnectWithoutAPermissionIs403) {
  ASSERT_TRUE(allocate_tcp().ok());
  ASSERT_TRUE(create_permission({"203.0.113.10"}).ok());
  auto r = connect_error(kPeer);
  EXPECT_EQ(r.error(), 403);
  EXPECT_TRUE(io.connects.empty());
  // An expired permission is no permission.
  ASSERT_TRUE(create_permission({"203.0.113.9"}).ok());
  advance(301);
  ASSERT_TRUE(refresh(600).ok());
  EXPECT_EQ(connect_error(kPeer).error(), 403);
}

TEST_F(TcpRelay, ConnectNeedsAPeerAddressWithAPortAndTheRightFamily) {
  ASSERT_TRUE(allocate_tcp().ok());
  ASSERT_TRUE(create_permission({"203.0.113.9"}).ok());
  auto r = send(Method::Connect, nullptr);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].error(), 400);
  EXPECT_EQ(connect_error("203.0.113.9:0").error(), 400);
  EXPECT_EQ(connect_error("[2001:db8:9::9]:80").error(), 443);
}

TEST_F(TcpRelay, ConnectOnAUdpAllocationIs400) {
  ASSERT_TRUE(allocate().ok());
  ASSERT_TRUE(create_permission({"203.0.113.9"}).ok());
  EXPECT_EQ(connect_error(kPeer).error(), 400);
  EXPECT_TRUE(io.connects.empty());
}

TEST_F(TcpRelay, ConnectWithoutAnAllocationIs437) {
  auto r = connect(kPeer);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].error(), 437);
}

TEST_F(TcpRelay, SecondConnectToTheSamePeerIs446) {
  ASSERT_TRUE(allocate_tcp().ok());
  ASSERT_TRUE(create_permission({"203.0.113.9"}).ok());
  EXPECT_TRUE(connect(kPeer).empty());
  EXPECT_EQ(connect_error(kPeer).error(), 446);  // while connecting
  server->on_peer_connected(io.connects[0].id, true, now);
  EXPECT_EQ(connect_error(kPeer).error(), 446);  // and once connected
  EXPECT_EQ(io.connects.size(), 1u);
  // Another port of the same peer is another connection.
  EXPECT_TRUE(connect("203.0.113.9:8081").empty());
  EXPECT_EQ(io.connects.size(), 2u);
}

TEST_F(TcpRelay, ConnectFailureIs447) {
  ASSERT_TRUE(allocate_tcp().ok());
  ASSERT_TRUE(create_permission({"203.0.113.9"}).ok());
  EXPECT_TRUE(connect(kPeer).empty());
  const uint32_t id = io.connects[0].id;
  const size_t before = io.to_client.size();
  server->on_peer_connected(id, false, now);  // refused, unreachable, ...
  auto r = sent_since(before);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].error(), 447);
  EXPECT_EQ(r[0].msg->method(), Method::Connect);
  EXPECT_TRUE(io.open_peers.empty());
  EXPECT_EQ(server->tcp_connection_count(), 0u);
  EXPECT_FALSE(connection_ids.owner(id));
  // The peer can be tried again.
  EXPECT_TRUE(connect(kPeer).empty());
}

TEST_F(TcpRelay, NoSocketIs447AtOnce) {
  ASSERT_TRUE(allocate_tcp().ok());
  ASSERT_TRUE(create_permission({"203.0.113.9"}).ok());
  io.fail_connect = true;
  EXPECT_EQ(connect_error(kPeer).error(), 447);
  EXPECT_EQ(connection_ids.size(), 0u);
}

TEST_F(TcpRelay, ConnectTimeoutIs447After30Seconds) {
  ASSERT_TRUE(allocate_tcp().ok());
  ASSERT_TRUE(create_permission({"203.0.113.9"}).ok());
  EXPECT_TRUE(connect(kPeer).empty());
  const size_t before = io.to_client.size();
  advance(29);
  server->tick(now);
  EXPECT_TRUE(sent_since(before).empty());
  advance(1);
  server->tick(now);
  auto r = sent_since(before);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].error(), 447);
  EXPECT_TRUE(io.open_peers.empty());
  // A late success is ignored.
  server->on_peer_connected(io.connects[0].id, true, now);
  EXPECT_EQ(sent_since(before).size(), 1u);
}

TEST_F(TcpRelay, ConnectionLimitIs508) {
  settings.max_tcp_connections = 2;
  start(0, 0);
  ASSERT_TRUE(allocate_tcp().ok());
  ASSERT_TRUE(create_permission({"203.0.113.9"}).ok());
  EXPECT_TRUE(connect("203.0.113.9:1").empty());
  EXPECT_TRUE(connect("203.0.113.9:2").empty());
  EXPECT_EQ(connect_error("203.0.113.9:3").error(), 508);
  // ... and peers connecting in are closed.
  PeerConnection* p = io.new_peer();
  EXPECT_EQ(
      server->on_peer_accepted(*allocation(), p, *SocketAddress::parse("203.0.113.9:5000"), now),
      0u);
  EXPECT_EQ(io.open_peers.count(p), 0u);
}

TEST_F(TcpRelay, ConnectionIdsAreUnpredictable) {
  ASSERT_TRUE(allocate_tcp().ok());
  ASSERT_TRUE(create_permission({"203.0.113.9"}).ok());
  std::set<uint32_t> ids;
  unsigned consecutive = 0;
  for (int i = 0; i < 20; ++i) {
    EXPECT_TRUE(connect(("203.0.113.9:" + std::to_string(1000 + i)).c_str()).empty());
    const uint32_t id = io.connects.back().id;
    if (!ids.empty() && (id == *ids.rbegin() + 1 || id + 1 == *ids.begin())) ++consecutive;
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 20u);
  EXPECT_EQ(ids.count(0), 0u);
  EXPECT_LT(consecutive, 3u);  // not a counter
}

// ---- §5.4 ConnectionBind ------------------------------------------------------------------------

TEST_F(TcpRelay, ConnectionBindOnANewConnectionBindsAfterItsSuccessResponse) {
  const uint32_t id = connected_peer();
  ASSERT_NE(id, 0u);
  open_data_connection();
  auto r = connection_bind(id);
  ASSERT_EQ(r.size(), 1u);
  ASSERT_TRUE(r[0].ok()) << r[0].error();
  EXPECT_EQ(r[0].msg->method(), Method::ConnectionBind);
  ASSERT_EQ(io.binds.size(), 1u);
  EXPECT_EQ(io.binds[0].socket, io.connects[0].socket);
  EXPECT_EQ(io.binds[0].data.address, client);  // the data connection, not the control one
  // The success response went out before the connection turned into raw data.
  EXPECT_EQ(io.binds[0].responses_before, io.to_client.size());
  EXPECT_EQ(server->find_tcp(id)->state, TcpConnection::State::Bound);
  EXPECT_FALSE(connection_ids.owner(id));  // bound ids leave the process-wide table
  // Binding it again is 400.
  open_data_connection(41001);
  r = connection_bind(id);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].error(), 400);
  EXPECT_EQ(io.binds.size(), 1u);
}

TEST_F(TcpRelay, ConnectionBindWithAnUnknownIdIs400) {
  ASSERT_NE(connected_peer(), 0u);
  open_data_connection();
  auto r = connection_bind(0x12345678);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].error(), 400);
  EXPECT_TRUE(io.binds.empty());
  EXPECT_TRUE(io.moves.empty());
  ASSERT_FALSE(events.refused_list.empty());
  EXPECT_EQ(events.refused_list.back().detail, "unknown or expired CONNECTION-ID");
  // No CONNECTION-ID at all, or a malformed one.
  r = send(Method::ConnectionBind, nullptr);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].error(), 400);
  r = send(Method::ConnectionBind, [](core::StunWriter& w) {
    const uint8_t v[2] = {1, 2};
    w.add(attr::ConnectionId, core::Bytes(v, 2));
  });
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].error(), 400);
}

TEST_F(TcpRelay, ConnectionBindBeforeTheConnectSucceededIs400) {
  ASSERT_TRUE(allocate_tcp().ok());
  ASSERT_TRUE(create_permission({"203.0.113.9"}).ok());
  EXPECT_TRUE(connect(kPeer).empty());
  open_data_connection();
  auto r = connection_bind(io.connects[0].id);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].error(), 400);
}

TEST_F(TcpRelay, ConnectionBindMustBeAuthenticated) {
  const uint32_t id = connected_peer();
  open_data_connection();
  auto r = connection_bind_once(id, false);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].error(), 401);
  EXPECT_TRUE(io.binds.empty());
}

TEST_F(TcpRelay, ConnectionBindMayUseTheControlConnectionsNonceFromTheSameHost) {
  // Clients sign the ConnectionBind with the nonce they have: their control connection's.
  const uint32_t id = connected_peer();
  const std::string control_nonce = nonce;
  control_client = client;
  client = SocketAddress(client.ip(), 41000);  // a new connection, the same nonce
  auto r = connection_bind_once(id, true);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(r[0].ok()) << r[0].error();
  EXPECT_EQ(io.binds.size(), 1u);
}

TEST_F(TcpRelay, ControlConnectionsNonceFromAnotherHostIsStale) {
  const uint32_t id = connected_peer();
  control_client = client;
  client = *SocketAddress::parse("198.51.100.77:41000");
  auto bind = [&] { return connection_bind_once(id, true); };
  auto r = bind();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].error(), 438);
  EXPECT_TRUE(io.binds.empty());
  // With a nonce of its own it may bind (the same user, another host: allowed).
  nonce = r[0].text(attr::Nonce);
  r = bind();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(r[0].ok()) << r[0].error();
}

TEST_F(TcpRelay, ControlConnectionsNonceIsOnlyForConnectionBind) {
  ASSERT_NE(connected_peer(), 0u);
  client = SocketAddress(client.ip(), 41000);  // a new connection with the control one's nonce
  auto r = feed(build(
      Method::Allocate, MessageClass::Request,
      [&](core::StunWriter& w) { w.add(attr::RequestedTransport, core::Bytes(kTcp, 4)); }, true));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].error(), 438);
}

TEST_F(TcpRelay, ConnectionBindByAnotherUserIs441) {
  const uint32_t id = connected_peer();
  open_data_connection();
  use_rest_user("mallory");
  auto r = connection_bind(id);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].error(), 441);
  EXPECT_TRUE(io.binds.empty());
  EXPECT_EQ(server->find_tcp(id)->state, TcpConnection::State::Pending);
}

TEST_F(TcpRelay, ConnectionBindOnTheControlConnectionIs400) {
  const uint32_t id = connected_peer();
  auto r = connection_bind(id);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].error(), 400);
  EXPECT_TRUE(io.binds.empty());
}

TEST_F(TcpRelay, ConnectionBindOverUdpIs400) {
  const uint32_t id = connected_peer();
  open_data_connection();
  transport = Transport::Udp;
  auto r = connection_bind(id);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].error(), 400);
  EXPECT_TRUE(io.binds.empty());
}

TEST_F(TcpRelay, ConnectionBindForAnotherWorkersIdMovesTheConnectionThere) {
  // Worker 7 owns the id; this connection reached worker 1 (SO_REUSEPORT chose).
  const uint32_t id = connection_ids.issue(7, *SocketAddress::parse("198.51.100.10:40000"));
  open_data_connection();
  auto r = connection_bind(id);
  EXPECT_TRUE(r.empty());  // worker 7 answers
  ASSERT_EQ(io.moves.size(), 1u);
  EXPECT_EQ(io.moves[0].worker, 7);
  EXPECT_EQ(io.moves[0].client.address, client);
  // The very request goes along, to be handled there.
  auto moved =
      core::StunMessage::parse(core::Bytes(io.moves[0].message.data(), io.moves[0].message.size()));
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->method(), Method::ConnectionBind);
  EXPECT_TRUE(moved->message_integrity());
  // A connection that cannot move (it moved once already) gets 400.
  io.allow_move = false;
  r = connection_bind(id);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].error(), 400);
}

TEST_F(TcpRelay, UnauthenticatedConnectionBindsDoNotMove) {
  const uint32_t id = connection_ids.issue(7, *SocketAddress::parse("198.51.100.10:40000"));
  open_data_connection();
  auto r = connection_bind_once(id, false);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].error(), 401);
  EXPECT_TRUE(io.moves.empty());
}

TEST_F(TcpRelay, NoConnectionBindWithinTheTimeoutClosesThePeerConnection) {
  settings.tcp_connection_bind_timeout = 5;  // tcp-connection-bind-timeout
  start(0, 0);
  const uint32_t id = connected_peer();
  advance(4);
  server->tick(now);
  EXPECT_EQ(io.open_peers.size(), 1u);
  advance(1);
  server->tick(now);
  EXPECT_TRUE(io.open_peers.empty());
  EXPECT_EQ(io.closed_peers.size(), 1u);
  EXPECT_FALSE(connection_ids.owner(id));
  open_data_connection();
  auto r = connection_bind(id);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].error(), 400);
  // The allocation itself lives on.
  EXPECT_NE(control_allocation(), nullptr);
}

TEST_F(TcpRelay, BoundConnectionsHaveNoDeadline) {
  const uint32_t id = connected_peer();
  open_data_connection();
  ASSERT_TRUE(connection_bind(id)[0].ok());
  back_to_control_connection();
  for (int i = 0; i < 5; ++i) {
    advance(60);
    server->tick(now);
    ASSERT_TRUE(refresh(600).ok());
  }
  EXPECT_EQ(io.open_peers.size(), 1u);
}

// ---- §5.3 peers connecting to the relayed address
// ------------------------------------------------

TEST_F(TcpRelay, PeerWithAPermissionGetsAConnectionAttemptIndication) {
  ASSERT_TRUE(allocate_tcp().ok());
  ASSERT_TRUE(create_permission({"203.0.113.9"}).ok());
  PeerConnection* p = io.new_peer();
  const size_t before = io.to_client.size();
  const uint32_t id =
      server->on_peer_accepted(*allocation(), p, *SocketAddress::parse("203.0.113.9:50123"), now);
  ASSERT_NE(id, 0u);
  auto r = sent_since(before);
  ASSERT_EQ(r.size(), 1u);
  ASSERT_TRUE(r[0].msg);
  EXPECT_EQ(r[0].msg->method(), Method::ConnectionAttempt);
  EXPECT_EQ(r[0].msg->message_class(), MessageClass::Indication);
  EXPECT_EQ(r[0].u32(attr::ConnectionId), id);
  EXPECT_EQ(r[0].address(attr::XorPeerAddress), *SocketAddress::parse("203.0.113.9:50123"));
  EXPECT_EQ(io.to_client[before].client.address, client);  // on the control connection
  // The client binds it from a new connection.
  open_data_connection();
  auto b = connection_bind(id);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_TRUE(b[0].ok());
  ASSERT_EQ(io.binds.size(), 1u);
  EXPECT_EQ(io.binds[0].socket, p);
}

TEST_F(TcpRelay, PeerWithoutAPermissionIsClosed) {
  ASSERT_TRUE(allocate_tcp().ok());
  ASSERT_TRUE(create_permission({"203.0.113.10"}).ok());
  PeerConnection* p = io.new_peer();
  const size_t before = io.to_client.size();
  EXPECT_EQ(
      server->on_peer_accepted(*allocation(), p, *SocketAddress::parse("203.0.113.9:50123"), now),
      0u);
  EXPECT_EQ(io.open_peers.count(p), 0u);
  EXPECT_TRUE(sent_since(before).empty());
  EXPECT_EQ(server->tcp_connection_count(), 0u);
}

TEST_F(TcpRelay, UnboundPeerConnectionIsClosedAfterTheTimeout) {
  ASSERT_TRUE(allocate_tcp().ok());
  ASSERT_TRUE(create_permission({"203.0.113.9"}).ok());
  PeerConnection* p = io.new_peer();
  const uint32_t id =
      server->on_peer_accepted(*allocation(), p, *SocketAddress::parse("203.0.113.9:50123"), now);
  advance(29);
  server->tick(now);
  EXPECT_EQ(io.open_peers.count(p), 1u);
  advance(1);
  server->tick(now);
  EXPECT_EQ(io.open_peers.count(p), 0u);
  EXPECT_EQ(server->find_tcp(id), nullptr);
}

// ---- the end of connections and allocations, counters ------------------------------------------

TEST_F(TcpRelay, PeerClosingForgetsTheConnection) {
  const uint32_t id = connected_peer();
  open_data_connection();
  ASSERT_TRUE(connection_bind(id)[0].ok());
  server->on_peer_closed(id, now);
  EXPECT_TRUE(io.open_peers.empty());
  EXPECT_EQ(server->tcp_connection_count(), 0u);
  EXPECT_TRUE(control_allocation()->tcp_connections.empty());
  // Closing again, or late bytes, are ignored.
  server->on_peer_closed(id, now);
  server->on_tcp_relayed(id, 10, 10);
  EXPECT_EQ(control_allocation()->from_client.bytes, 0u);
}

TEST_F(TcpRelay, ControlConnectionClosingEndsEverything) {
  const uint32_t bound = connected_peer();
  ASSERT_TRUE(create_permission({"203.0.113.10"}).ok());
  EXPECT_TRUE(connect("203.0.113.10:80").empty());  // still connecting
  PeerConnection* passive = io.new_peer();
  const uint32_t waiting = server->on_peer_accepted(
      *allocation(), passive, *SocketAddress::parse("203.0.113.9:50123"), now);
  ASSERT_NE(waiting, 0u);
  open_data_connection();
  ASSERT_TRUE(connection_bind(bound)[0].ok());
  EXPECT_EQ(io.open_peers.size(), 3u);
  server->on_client_closed(FiveTuple{control_client, local, Transport::Tcp}, now);
  EXPECT_TRUE(io.open_peers.empty());
  EXPECT_EQ(server->tcp_connection_count(), 0u);
  EXPECT_EQ(connection_ids.size(), 0u);
  EXPECT_TRUE(io.open_sockets.empty());
  ASSERT_EQ(events.ended.size(), 1u);
  EXPECT_EQ(events.ended[0].second, EndReason::ClientClosed);
}

TEST_F(TcpRelay, RefreshZeroAndServerShutdownCloseThePeerConnections) {
  ASSERT_NE(connected_peer(), 0u);
  ASSERT_TRUE(refresh(0).ok());
  EXPECT_TRUE(io.open_peers.empty());
  client = *SocketAddress::parse("198.51.100.10:40500");
  nonce.clear();
  io.connects.clear();
  ASSERT_NE(connected_peer(), 0u);
  server->shutdown(now);
  EXPECT_TRUE(io.open_peers.empty());
  client = *SocketAddress::parse("198.51.100.10:40501");
  nonce.clear();
  io.connects.clear();
  ASSERT_NE(connected_peer(), 0u);
  server.reset();  // FakeIo checks that each is closed exactly once
  EXPECT_TRUE(io.open_peers.empty());
  EXPECT_EQ(connection_ids.size(), 0u);
}

TEST_F(TcpRelay, RelayedBytesCountForTheAllocationAndThePeer) {
  const uint32_t id = connected_peer();
  open_data_connection();
  ASSERT_TRUE(connection_bind(id)[0].ok());
  server->on_tcp_relayed(id, 1000, 0);
  server->on_tcp_relayed(id, 0, 3000);
  server->on_tcp_relayed(id, 24, 96);
  Allocation* a = control_allocation();
  EXPECT_EQ(a->from_client.bytes, 1024u);
  EXPECT_EQ(a->to_client.bytes, 3096u);
  const Permission* p = a->find_permission(*IpAddress::parse("203.0.113.9"));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->to_peer.bytes, 1024u);
  EXPECT_EQ(p->from_peer.bytes, 3096u);
  // The ledger sees them when the session ends.
  server->on_client_closed(FiveTuple{control_client, local, Transport::Tcp}, now);
  EXPECT_EQ(events.last_bytes_from_client, 1024u);
}

}  // namespace
}  // namespace turnpike::relay::test

namespace turnpike::relay::test {
namespace {

// expired-credential-grace (credential_expiry.cc): every Connect is a new peer connection, so
// none after the credential expired, even to a permitted peer; the permission itself refreshes.
TEST_F(TcpRelay, NoConnectAfterTheCredentialExpired) {
  use_rest_user("alice", 100);
  ASSERT_TRUE(allocate_tcp().ok());
  ASSERT_TRUE(create_permission({"203.0.113.9"}).ok());
  advance(101);
  EXPECT_TRUE(create_permission({"203.0.113.9"}).ok());
  const size_t peers = io.connects.size();
  Response r = connect_error(kPeer);
  EXPECT_EQ(r.error(), 403);
  EXPECT_EQ(events.refused_list.back().reason, RefusalReason::ExpiredCredential);
  EXPECT_EQ(io.connects.size(), peers);  // no connection was opened
}

}  // namespace
}  // namespace turnpike::relay::test
