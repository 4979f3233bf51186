// CreatePermission (RFC 8656 §9) and ChannelBind (§12.2). Both go through the one peer policy.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/attributes/channel_number.h"
#include "core/attributes/xor_address.h"
#include "relay/request.h"
#include "relay/server.h"

namespace turnpike::relay {

using core::MessageClass;
namespace attr = core::attr;
namespace err = core::error;

bool Server::permitted(Allocation& a, const IpAddress& peer, int64_t now_ms, Permission** out) {
  Permission* p = a.find_permission(peer);
  if (!p || p->expires_ms <= now_ms) return false;
  *out = p;
  return true;
}

void Server::install_permission(Allocation& a, const IpAddress& peer, int64_t now_ms) {
  const int64_t expires = now_ms + int64_t(settings_.permission_lifetime) * 1000;
  if (Permission* p = a.find_permission(peer)) {
    p->expires_ms = expires;  // RFC 8656 §9.2: refresh an existing permission
    return;
  }
  Permission p;
  p.peer = peer;
  p.expires_ms = expires;
  a.permissions.insert(p);  // the caller checked max-permissions
}

void Server::handle_create_permission(Request& r) {
  Allocation& a = *r.alloc;
  const core::StunMessage& m = r.msg;
  // RFC 8656 §9.2: one or more XOR-PEER-ADDRESS; every one must pass or none is installed.
  std::vector<IpAddress> peers;
  bool bad = false;
  m.for_each([&](const core::Attribute& at) {
    if (at.type != attr::XorPeerAddress) return;
    auto p = core::decode_xor_address(m.value(at), m.bytes().data());
    if (!p) {
      bad = true;
      return;
    }
    peers.push_back(p->ip());
  });
  if (bad || peers.empty()) return reply_error(r, err::BadRequest);

  size_t fresh = 0;
  for (const IpAddress& peer : peers) {
    if (!a.has_family(peer.family())) return reply_error(r, err::PeerAddressFamilyMismatch);
    if (const PeerDecision d = policy_.check(peer); !d) {
      return refuse(r, err::Forbidden, RefusalReason::ForbiddenPeer, d.reason,
                    SocketAddress(peer, 0));
    }
    if (!known_peer_after_expiry(r, peer)) return;
    if (!a.find_permission(peer)) ++fresh;
  }
  // RFC 8656 §9.2: a valid request the server cannot fulfil for a capacity limit is answered
  // 508 (Insufficient Capacity): past max-permissions, nothing of this request is installed.
  if (a.permissions.size() + fresh > settings_.max_permissions) {
    return refuse(r, err::InsufficientCapacity, RefusalReason::Capacity,
                  "max-permissions reached for this allocation");
  }
  for (const IpAddress& peer : peers) {
    install_permission(a, peer, r.now.mono_ms);
    events_.permission_installed(a, peer, r.now);
    // A refreshed permission moves the kernel's deadline for the channels bound to that peer.
    a.channels.for_each([&](Channel& c) {
      if (c.peer.ip() == peer && c.expires_ms > r.now.mono_ms) offload_channel(a, c);
    });
  }
  rearm(a, r.now.mono_ms);
  core::StunWriter w = begin(r, MessageClass::Success);
  finish(r, w);
}

void Server::handle_channel_bind(Request& r) {
  Allocation& a = *r.alloc;
  const core::StunMessage& m = r.msg;
  const int64_t now = r.now.mono_ms;

  // RFC 8656 §12.2: a valid CHANNEL-NUMBER (channel_number.h) and one XOR-PEER-ADDRESS, else 400.
  // RFC 6062: a TCP allocation relays over peer connections, never over channels.
  if (a.tcp) return reply_error(r, err::BadRequest);
  const auto ch_attr = m.find(attr::ChannelNumber);
  const auto peer_attr = m.find(attr::XorPeerAddress);
  if (!ch_attr || !peer_attr) return reply_error(r, err::BadRequest);
  const auto number = core::decode_channel_number(m.value(*ch_attr));
  const auto peer = core::decode_xor_address(m.value(*peer_attr), m.bytes().data());
  if (!number || !peer || *number < core::kMinChannel || *number > core::kMaxChannel) {
    return reply_error(r, err::BadRequest);
  }
  if (!a.has_family(peer->family())) return reply_error(r, err::PeerAddressFamilyMismatch);
  if (const PeerDecision d = policy_.check(*peer); !d) {
    return refuse(r, err::Forbidden, RefusalReason::ForbiddenPeer, d.reason, *peer);
  }
  if (!known_peer_after_expiry(r, peer->ip())) return;
  // A channel stays tied to its peer, and a peer to its channel, while bound and for five
  // minutes after (RFC 8656 §12): rebinding either to something else is 400.
  Channel* by_number = a.find_channel(*number);
  Channel* by_peer = a.find_channel(*peer);
  if ((by_number && by_number->peer != *peer) || (by_peer && by_peer->number != *number)) {
    return reply_error(r, err::BadRequest);
  }
  if (!a.find_permission(peer->ip()) && a.permissions.size() + 1 > settings_.max_permissions) {
    return refuse(r, err::InsufficientCapacity, RefusalReason::Capacity,
                  "max-permissions reached for this allocation");
  }
  // Past max-channels, 508 (Insufficient Capacity) as for permissions (RFC 8656 §9.2). Cooling
  // channels count: they still hold their number and peer.
  if (!by_number && a.channels.size() + 1 > settings_.max_channels) {
    return refuse(r, err::InsufficientCapacity, RefusalReason::Capacity,
                  "max-channels reached for this allocation");
  }
  // RFC 8656 §12.2: binding a channel also installs or refreshes the permission for the peer
  // (first, so that the channel pointer below stays valid: the tables are separate anyway).
  install_permission(a, peer->ip(), now);
  const int64_t expires = now + int64_t(settings_.channel_lifetime) * 1000;
  Channel* bound = by_number;
  if (bound) {
    bound->expires_ms = expires;
  } else {
    bound = a.channels.insert(Channel{*number, *peer, expires});
  }
  offload_channel(a, *bound);
  rearm(a, now);
  events_.channel_bound(a, *number, *peer, r.now);
  core::StunWriter w = begin(r, MessageClass::Success);
  finish(r, w);
}

}  // namespace turnpike::relay
