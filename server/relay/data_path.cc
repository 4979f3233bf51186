// The relay path (RFC 8656 §11-12): Send indications and ChannelData from the client to peers,
// and peer datagrams back as ChannelData or Data indications. No allocation, no logging, no
// hashing beyond the one 5-tuple lookup; peer data is framed in place in the receive buffer.
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "core/attributes/xor_address.h"
#include "core/channel_data.h"
#include "core/stun_writer.h"
#include "relay/request.h"
#include "relay/server.h"

namespace turnpike::relay {

namespace attr = core::attr;

void Server::handle_send_indication(Allocation& a, const core::StunMessage& m, const Now& now) {
  if (a.tcp) return;  // RFC 6062: a TCP allocation relays only over its peer connections
  // RFC 8656 §11.2: XOR-PEER-ADDRESS and DATA are required; otherwise the indication is dropped.
  const auto peer_attr = m.find(attr::XorPeerAddress);
  const auto data_attr = m.find(attr::Data);
  if (!peer_attr || !data_attr) return;
  const auto peer = core::decode_xor_address(m.value(*peer_attr), m.bytes().data());
  if (!peer) return;
  const RelayEndpoint* ep = a.relay_for(peer->family());
  if (!ep) return;
  // The policy is checked on every Send (the permission alone could predate a policy reload).
  if (const PeerDecision d = policy_.check(*peer); !d) {
    if (!a.refused_send_logged) {
      a.refused_send_logged = true;  // one line per allocation, not one per packet
      Refusal ref{
          now,   a.five_tuple, core::Method::Send, 0, RefusalReason::ForbiddenPeer, a.username,
          *peer, d.reason};
      events_.refused(ref);
    }
    return;
  }
  Permission* p = nullptr;
  if (!permitted(a, peer->ip(), now.mono_ms, &p)) {
    ++a.dropped;
    ++stats_.no_permission;
    return;
  }
  const core::Bytes payload = m.value(*data_attr);
  p->to_peer.add(payload.size());
  a.from_client.add(payload.size());
  ++stats_.relayed;
  io_.send_to_peer(ep->socket, *peer, payload);
}

void Server::on_channel_data(const FiveTuple& tuple, core::Bytes data, const Now& now) {
  Allocation* a = find(tuple);
  if (!a || a->tcp) return;
  const auto cd = core::parse_channel_data(data);
  if (!cd) return;
  // RFC 8656 §12.5: the channel must be bound (not merely cooling) and its peer permitted.
  Channel* c = a->find_channel(cd->channel);
  Permission* p = nullptr;
  if (!c || c->expires_ms <= now.mono_ms || !permitted(*a, c->peer.ip(), now.mono_ms, &p)) {
    ++a->dropped;
    ++stats_.no_permission;
    return;
  }
  const RelayEndpoint* ep = a->relay_for(c->peer.family());
  if (!ep) return;
  p->to_peer.add(cd->payload.size());
  a->from_client.add(cd->payload.size());
  ++stats_.relayed;
  io_.send_to_peer(ep->socket, c->peer, cd->payload);
}

void Server::on_peer_packet(Allocation& a, uint8_t index, const SocketAddress& peer,
                            uint8_t* payload, size_t len, const Now& now) {
  (void)index;
  // RFC 8656 §10.3 / §12.6: data from a peer without a permission is dropped.
  Permission* p = nullptr;
  if (!permitted(a, peer.ip(), now.mono_ms, &p) || len > 0xFFFF - 64) {
    ++a.dropped;
    ++stats_.no_permission;
    return;
  }
  p->from_peer.add(len);
  a.to_client.add(len);
  ++stats_.relayed;
  const bool stream = is_stream(a.five_tuple.transport);

  Channel* c = a.find_channel(peer);
  if (c && c->expires_ms > now.mono_ms) {
    // ChannelData (RFC 8656 §12.6): 4-byte header in front; over TCP/TLS padded to 4 bytes.
    uint8_t* start = payload - core::kChannelDataHeaderSize;
    core::write_channel_data_header(start, c->number, uint16_t(len));
    size_t total = core::kChannelDataHeaderSize + len;
    if (stream) {
      const size_t padded = core::padded4(uint32_t(total));
      std::memset(start + total, 0, padded - total);
      total = padded;
    }
    io_.send_to_client(a.client, core::Bytes(start, total));
    return;
  }

  // Data indication (RFC 8656 §10.3): header, XOR-PEER-ADDRESS, DATA, built backwards in front
  // of the payload.
  const size_t addr_len = peer.ip().is_v4() ? 8 : 20;
  const size_t head = core::kHeaderSize + 4 + addr_len + 4;
  uint8_t* start = payload - head;
  const size_t padded_len = core::padded4(uint32_t(len));
  std::memset(payload + len, 0, padded_len - len);
  const size_t body = 4 + addr_len + 4 + padded_len;
  core::store_be16(start, core::message_type(core::Method::Data, core::MessageClass::Indication));
  core::store_be16(start + 2, uint16_t(body));
  core::store_be32(start + 4, core::kMagicCookie);
  fill_indication_txid(start + 8);
  uint8_t* at = start + core::kHeaderSize;
  core::store_be16(at, attr::XorPeerAddress);
  core::store_be16(at + 2, uint16_t(addr_len));
  core::encode_xor_address(peer, start, at + 4);
  at += 4 + addr_len;
  core::store_be16(at, attr::Data);
  core::store_be16(at + 2, uint16_t(len));
  io_.send_to_client(a.client, core::Bytes(start, core::kHeaderSize + body));
}

}  // namespace turnpike::relay
