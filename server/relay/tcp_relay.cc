// RFC 6062 TCP relay: Connect (§5.2), peers connecting to a relayed address (§5.3),
// ConnectionBind (§5.4), and the connect and ConnectionBind deadlines. The sockets, the
// splicing of data connections and the move of a ConnectionBind's connection to the worker
// that owns its id are the network layer's (net/tcp_peer_connection.h, net/splice.h).
#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/attributes/connection_id.h"
#include "core/attributes/xor_address.h"
#include "relay/request.h"
#include "relay/server.h"

namespace turnpike::relay {

using core::MessageClass;
using core::Method;
namespace attr = core::attr;
namespace err = core::error;

const TcpConnection* Server::find_tcp(uint32_t id) const {
  auto it = tcp_.find(id);
  return it == tcp_.end() ? nullptr : &it->second;
}

TcpConnection& Server::add_tcp(Allocation& a, PeerConnection* p, uint32_t id,
                               const SocketAddress& peer, TcpConnection::State state,
                               int64_t deadline_ms, int64_t now_ms) {
  TcpConnection& c = tcp_[id];
  c.id = id;
  c.owner = &a;
  c.socket = p;
  c.peer = peer;
  c.state = state;
  c.deadline_ms = deadline_ms;
  if (state != TcpConnection::State::Bound) wheel_.schedule(c, deadline_ms, now_ms);
  a.tcp_connections.push_back(id);
  ++stats_.tcp_connections;
  return c;
}

void Server::close_tcp(uint32_t id) {
  auto it = tcp_.find(id);
  if (it == tcp_.end()) return;
  TcpConnection& c = it->second;
  // Bound ids left the process-wide table when they were bound.
  if (c.state != TcpConnection::State::Bound) connection_ids_.release(id);
  std::erase(c.owner->tcp_connections, id);
  PeerConnection* socket = c.socket;
  tcp_.erase(it);
  io_.close_peer(socket);
}

void Server::handle_connect(Request& r) {
  Allocation& a = *r.alloc;
  const core::StunMessage& m = r.msg;
  // RFC 6062 §5.2: Connect is for TCP allocations, on their control connection.
  if (!a.tcp) return reply_error(r, err::BadRequest);
  const auto peer_attr = m.find(attr::XorPeerAddress);
  if (!peer_attr) return reply_error(r, err::BadRequest);
  const auto peer = core::decode_xor_address(m.value(*peer_attr), m.bytes().data());
  if (!peer || peer->port() == 0) return reply_error(r, err::BadRequest);
  const RelayEndpoint* ep = a.relay_for(peer->family());
  if (!ep) return reply_error(r, err::PeerAddressFamilyMismatch);
  // The one peer policy of CreatePermission, ChannelBind and Send (canonical form, loopback,
  // 0.0.0.0 and :: (CVE-2020-26262), metadata, our own listeners) -> 403.
  if (const PeerDecision d = policy_.check(*peer); !d) {
    return refuse(r, err::Forbidden, RefusalReason::ForbiddenPeer, d.reason, *peer);
  }
  // RFC 6062 §5.2: the peer must have a permission (CreatePermission first) -> 403.
  Permission* permission = nullptr;
  if (!permitted(a, peer->ip(), r.now.mono_ms, &permission)) {
    return refuse(r, err::Forbidden, RefusalReason::ForbiddenPeer,
                  "no permission for this peer (RFC 6062: CreatePermission before Connect)", *peer);
  }
  // RFC 6062 §5.2: one connection per peer transport address -> 446.
  for (uint32_t id : a.tcp_connections) {
    if (tcp_.at(id).peer == *peer) return reply_error(r, err::ConnectionAlreadyExists);
  }
  if (a.tcp_connections.size() >= settings_.max_tcp_connections) {
    return refuse(r, err::InsufficientCapacity, RefusalReason::Capacity,
                  "too many TCP connections on this allocation", *peer);
  }
  // RFC 6062 §5.2: the connection starts from the relayed transport address.
  const uint32_t id = connection_ids_.issue(worker_id_, a.five_tuple.client);
  PeerConnection* socket = io_.connect_peer(id, ep->bound, *peer);
  if (!socket) {
    connection_ids_.release(id);
    return reply_error(r, err::ConnectionTimeoutOrFailure);
  }
  TcpConnection& c = add_tcp(a, socket, id, *peer, TcpConnection::State::Connecting,
                             r.now.mono_ms + int64_t(settings_.tcp_connect_timeout) * 1000,
                             r.now.mono_ms);
  c.outgoing = true;
  std::memcpy(c.connect_transaction_id.data(), m.transaction_id(), 12);
  c.connect_sha256 = r.sha256;
  c.connect_fingerprint = r.fingerprint;
  // Answered by on_peer_connected(), or with 447 by tick_tcp() at the deadline.
}

void Server::answer_connect(const TcpConnection& c, uint16_t error) {
  Allocation& a = *c.owner;
  core::StunWriter w(core::MutableBytes(out_.data(), out_.size()), Method::Connect,
                     error ? MessageClass::Error : MessageClass::Success,
                     c.connect_transaction_id.data());
  if (error) {
    w.add_error_code(error, a.authenticated ? err::reason_phrase(error) : "");
  } else {
    // RFC 6062 §5.2: the success response carries the CONNECTION-ID.
    uint8_t v[4];
    core::store_be32(v, c.id);
    w.add(attr::ConnectionId, core::Bytes(v, 4));
  }
  seal_and_send(w, a.client, c.connect_transaction_id.data(), &a,
                a.authenticated ? &a.key : nullptr, c.connect_sha256, c.connect_fingerprint);
}

void Server::send_connection_attempt(const TcpConnection& c) {
  const Allocation& a = *c.owner;
  // RFC 6062 §5.3: a ConnectionAttempt indication on the control connection, with the peer's
  // address and the id to bind. (An indication, as coturn sends it and its client expects; a
  // response from a client that treats it as a request is ignored like any response.)
  uint8_t txid[12];
  fill_indication_txid(txid);
  core::StunWriter w(core::MutableBytes(out_.data(), out_.size()), Method::ConnectionAttempt,
                     MessageClass::Indication, txid);
  uint8_t v[4];
  core::store_be32(v, c.id);
  w.add(attr::ConnectionId, core::Bytes(v, 4));
  w.add_xor_address(attr::XorPeerAddress, c.peer);
  if (a.fingerprint || settings_.fingerprint) w.add_fingerprint();
  if (w.ok()) io_.send_to_client(a.client, w.bytes());
}

void Server::on_peer_connected(uint32_t id, bool ok, const Now& now) {
  auto it = tcp_.find(id);
  if (it == tcp_.end() || it->second.state != TcpConnection::State::Connecting) return;
  TcpConnection& c = it->second;
  if (!ok) {
    // RFC 6062 §5.2: refused, unreachable, ... -> 447.
    answer_connect(c, err::ConnectionTimeoutOrFailure);
    close_tcp(id);
    return;
  }
  // RFC 6062 §5.2: the ConnectionBind must come within 30 s (tcp-connection-bind-timeout).
  c.state = TcpConnection::State::Pending;
  c.deadline_ms = now.mono_ms + int64_t(settings_.tcp_connection_bind_timeout) * 1000;
  wheel_.schedule(c, c.deadline_ms, now.mono_ms);
  answer_connect(c, 0);
}

uint32_t Server::on_peer_accepted(Allocation& a, PeerConnection* p, const SocketAddress& peer,
                                  const Now& now) {
  // RFC 6062 §5.3: only peers with a permission may connect (the policy is asked again, as for
  // every Send); others are closed at once.
  Permission* permission = nullptr;
  if (!a.tcp || !permitted(a, peer.ip(), now.mono_ms, &permission) || !policy_.check(peer.ip()) ||
      a.tcp_connections.size() >= settings_.max_tcp_connections) {
    ++stats_.tcp_refused;
    ++a.dropped;
    io_.close_peer(p);
    return 0;
  }
  const uint32_t id = connection_ids_.issue(worker_id_, a.five_tuple.client);
  TcpConnection& c = add_tcp(a, p, id, peer, TcpConnection::State::Pending,
                             now.mono_ms + int64_t(settings_.tcp_connection_bind_timeout) * 1000,
                             now.mono_ms);
  send_connection_attempt(c);
  return id;
}

void Server::on_peer_closed(uint32_t id, const Now&) {
  auto it = tcp_.find(id);
  if (it == tcp_.end()) return;
  if (it->second.state == TcpConnection::State::Connecting) {
    answer_connect(it->second, err::ConnectionTimeoutOrFailure);
  }
  close_tcp(id);
}

void Server::on_tcp_relayed(uint32_t id, size_t to_peer, size_t to_client) {
  auto it = tcp_.find(id);
  if (it == tcp_.end()) return;
  TcpConnection& c = it->second;
  Allocation& a = *c.owner;
  // The allocation's counters and the peer's (the ledger's per-peer rows) count TCP bytes too.
  Permission* p = a.find_permission(c.peer.ip());
  if (to_peer) {
    a.from_client.add(to_peer);
    if (p) p->to_peer.add(to_peer);
  }
  if (to_client) {
    a.to_client.add(to_client);
    if (p) p->from_peer.add(to_client);
  }
}

void Server::handle_connection_bind(Request& r) {
  const core::StunMessage& m = r.msg;
  // RFC 6062 §5.4: on a TCP or TLS connection that is not a control connection.
  if (!is_stream(r.tuple.transport) || r.alloc) return reply_error(r, err::BadRequest);
  const auto id_attr = m.find(attr::ConnectionId);
  const auto id = id_attr ? core::decode_connection_id(m.value(*id_attr)) : std::nullopt;
  if (!id) return reply_error(r, err::BadRequest);
  auto it = tcp_.find(*id);
  if (it == tcp_.end()) {
    // Another worker's id: the connection moves there (connection_ids.h says why).
    if (const auto owner = connection_ids_.owner(*id); owner && *owner != worker_id_) {
      if (io_.move_client(r.client, *owner, m.bytes())) return;
    }
    return refuse(r, err::BadRequest, RefusalReason::BadRequest,
                  "unknown or expired CONNECTION-ID");
  }
  TcpConnection& c = it->second;
  if (c.state != TcpConnection::State::Pending) {
    return refuse(r, err::BadRequest, RefusalReason::BadRequest,
                  c.state == TcpConnection::State::Bound ? "CONNECTION-ID already bound"
                                                         : "CONNECTION-ID not connected yet");
  }
  Allocation& a = *c.owner;
  // RFC 6062 §5.4 with RFC 8656 §5: the allocation's credentials -> 441.
  if (a.authenticated && r.username != a.username) {
    return refuse(r, err::WrongCredentials, RefusalReason::WrongCredentials,
                  "ConnectionBind signed by another user than the allocation's");
  }
  c.state = TcpConnection::State::Bound;
  c.deadline_ms = 0;
  c.cancel();
  connection_ids_.release(c.id);
  core::StunWriter w = begin(r, MessageClass::Success);
  finish(r, w);
  // After the success response, the connection carries the peer's bytes (RFC 6062 §5.4).
  io_.bind_peer(c.socket, r.client);
}

std::optional<SocketAddress> Server::control_connection_of(const core::StunMessage& m,
                                                           const SocketAddress& client) const {
  const auto id_attr = m.find(attr::ConnectionId);
  const auto id = id_attr ? core::decode_connection_id(m.value(*id_attr)) : std::nullopt;
  if (!id) return std::nullopt;
  std::optional<SocketAddress> control;
  if (const TcpConnection* c = find_tcp(*id)) {
    control = c->owner->five_tuple.client;
  } else if (const auto e = connection_ids_.find(*id)) {
    control = e->control;  // another worker's; the connection moves there (handle_connection_bind)
  }
  if (!control || control->ip() != client.ip()) return std::nullopt;
  return control;
}

void Server::expire_tcp(TcpConnection& c, const Now& now) {
  if (c.state == TcpConnection::State::Bound) return;
  if (c.deadline_ms > now.mono_ms) {
    wheel_.schedule(c, c.deadline_ms, now.mono_ms);
    return;
  }
  // RFC 6062 §5.2: no connection within the timeout -> 447. §5.2, §5.3: no ConnectionBind
  // within 30 s -> the peer connection is closed.
  if (c.state == TcpConnection::State::Connecting)
    answer_connect(c, err::ConnectionTimeoutOrFailure);
  close_tcp(c.id);
}

}  // namespace turnpike::relay
