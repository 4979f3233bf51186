// Allocate (RFC 8656 §7.1-7.2) and Refresh (§7.3).
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/attributes/address_error_code.h"
#include "core/attributes/address_family.h"
#include "core/attributes/even_port.h"
#include "core/attributes/requested_transport.h"
#include "core/attributes/reservation_token.h"
#include "core/attributes/xor_address.h"
#include "core/rest_credentials.h"
#include "relay/request.h"
#include "relay/server.h"

namespace turnpike::relay {

using core::MessageClass;
namespace attr = core::attr;
namespace err = core::error;

void Server::refuse_draining(Request& r) {
  const SocketAddress* alt = nullptr;
  for (const SocketAddress& s : settings_.alternate_servers) {
    if (s.family() == r.tuple.client.family()) {
      alt = &s;
      break;
    }
  }
  const uint16_t code = alt ? err::TryAlternate : err::Forbidden;
  Refusal ref{r.now, r.tuple, r.msg.method(), code, RefusalReason::Draining, r.username,
              std::nullopt, alt ? "draining: sent to alternate-server" : "draining"};
  events_.refused(ref);
  core::StunWriter w = begin(r, MessageClass::Error);
  // Reason phrases only to authenticated clients, as every error.
  w.add_error_code(code, !r.is_signed ? ""
                         : alt        ? "Try Alternate: this relay is draining"
                                      : "Forbidden: this relay is draining, use another");
  if (alt) {
    // RFC 8489 §14.15: ALTERNATE-SERVER has MAPPED-ADDRESS's layout (no XOR).
    uint8_t v[20];
    core::encode_plain_address(*alt, v);
    w.add(attr::AlternateServer, core::Bytes(v, alt->ip().is_v4() ? 8 : 20));
  }
  finish(r, w);
}

void Server::handle_allocate(Request& r) {
  const core::StunMessage& m = r.msg;
  if (draining_) return refuse_draining(r);

  // RFC 8656 §7.2 step 3: REQUESTED-TRANSPORT is mandatory; only UDP (and, with RFC 6062 and
  // a stream connection, TCP) can be relayed.
  const auto rt_attr = m.find(attr::RequestedTransport);
  const auto rt = rt_attr ? core::decode_requested_transport(m.value(*rt_attr)) : std::nullopt;
  if (!rt) return reply_error(r, err::BadRequest);
  bool tcp = false;
  if (*rt == core::kProtocolTcp) {
    // RFC 6062 §5.1 item 2: a TCP allocation needs a TCP or TLS client connection (its control
    // connection); over UDP or DTLS the request is a 400. With no-tcp-relay this server does
    // not offer TCP relaying at all, which RFC 8656 §7.2 step 3 answers with 442.
    if (!settings_.tcp_relay) return reply_error(r, err::UnsupportedTransportProtocol);
    if (!is_stream(r.tuple.transport)) return reply_error(r, err::BadRequest);
    tcp = true;
  } else if (*rt != core::kProtocolUdp) {
    return reply_error(r, err::UnsupportedTransportProtocol);
  } else if (!settings_.udp_relay) {
    // RFC 6062 §5.1 item 1: UDP forbidden by local policy (no-udp-relay) -> 403.
    return reply_error(r, err::Forbidden);
  }

  // Step 4: DONT-FRAGMENT is supported (the relay socket sets DF).
  const bool dont_fragment = m.find(attr::DontFragment).has_value();

  // Steps 5-6: RESERVATION-TOKEN excludes EVEN-PORT and the address family attributes.
  const auto token_attr = m.find(attr::ReservationToken);
  const auto even_attr = m.find(attr::EvenPort);
  const auto raf_attr = m.find(attr::RequestedAddressFamily);
  const auto aaf_attr = m.find(attr::AdditionalAddressFamily);
  // RFC 6062 §5.1: DONT-FRAGMENT, EVEN-PORT and RESERVATION-TOKEN mean nothing for TCP -> 400.
  if (tcp && (dont_fragment || even_attr || token_attr)) return reply_error(r, err::BadRequest);
  if (token_attr && (even_attr || raf_attr || aaf_attr)) return reply_error(r, err::BadRequest);
  if (raf_attr && aaf_attr) return reply_error(r, err::BadRequest);

  std::optional<uint64_t> token;
  if (token_attr) {
    token = core::decode_reservation_token(m.value(*token_attr));
    if (!token) return reply_error(r, err::BadRequest);
  }
  core::EvenPort even{};
  if (even_attr) {
    auto e = core::decode_even_port(m.value(*even_attr));
    if (!e) return reply_error(r, err::BadRequest);
    even = *e;
  }

  // Which families to relay (RFC 8656 §7.2 step 7, RFC 6156).
  Family families[2];
  uint8_t family_count = 1;
  if (raf_attr) {
    const auto code = core::decode_address_family(m.value(*raf_attr));
    if (!code) return reply_error(r, err::BadRequest);
    const auto f = core::family_from_code(*code);
    if (!f) return reply_error(r, err::AddressFamilyNotSupported);
    families[0] = *f;
  } else if (aaf_attr) {
    // ADDITIONAL-ADDRESS-FAMILY asks for IPv6 in addition to the default IPv4; IPv4 there is 400.
    const auto code = core::decode_address_family(m.value(*aaf_attr));
    if (!code || *code != core::kFamilyIpv6) return reply_error(r, err::BadRequest);
    families[0] = Family::V4;
    families[1] = Family::V6;
    family_count = 2;
  } else {
    switch (settings_.default_family) {
      case DefaultFamily::Ipv4:
        families[0] = Family::V4;
        break;
      case DefaultFamily::Ipv6:
        families[0] = Family::V6;
        break;
      case DefaultFamily::Keep:
        families[0] = r.tuple.client.family();
        break;
    }
  }

  bool malformed = false;
  uint32_t lifetime = granted_lifetime(m, &malformed);
  if (malformed) return reply_error(r, err::BadRequest);
  if (lifetime == 0) lifetime = settings_.default_lifetime;

  // RFC 8656 §7.2 step 8: quotas. Per user: the user part of a REST username in either order
  // (core::rest_user_key, the one formula), so that one person's fresh credentials share one
  // quota.
  std::string quota_key(core::rest_user_key(r.username, auth_.credentials().separator));
  switch (quotas_.acquire(quota_key)) {
    case QuotaBook::Result::Ok:
      break;
    case QuotaBook::Result::UserQuota:
      return refuse(r, err::AllocationQuotaReached, RefusalReason::Quota, "user-quota reached");
    case QuotaBook::Result::TotalQuota:
      return refuse(r, err::InsufficientCapacity, RefusalReason::Quota, "total-quota reached");
  }

  auto a = std::make_unique<Allocation>();
  a->set_hash_key(&hash_key_);
  a->quota_key = std::move(quota_key);
  a->id = (uint64_t(worker_id_) << 56) | next_session_++;
  a->five_tuple = r.tuple;
  a->client = r.client;
  a->username = r.username;
  a->key = r.key;
  a->authenticated = r.is_signed;
  a->sha256 = r.sha256;
  a->fingerprint = r.msg.has_fingerprint();
  a->dont_fragment = dont_fragment;
  a->tcp = tcp;
  a->started_unix_ms = r.now.unix_ms;
  std::memcpy(a->allocate_transaction_id.data(), m.transaction_id(), 12);

  for (uint8_t i = 0; i < family_count; ++i) {
    const Family f = families[i];
    OpenRelayRequest req;
    req.family = f;
    req.even_port = even_attr.has_value();
    req.reserve_next = even.reserve_next;
    req.reservation_token = token;
    req.dont_fragment = dont_fragment;
    req.tcp = tcp;
    uint16_t error = 0;
    if (token) {
      req.bind_ip = IpAddress::any(f);  // the token decides
    } else if (auto ip = choose_relay_ip(f, r.tuple.server.ip())) {
      req.bind_ip = *ip;
    } else {
      error = err::AddressFamilyNotSupported;  // no relay address of that family
    }
    OpenRelayResult res;
    if (!error) {
      res = io_.open_relay(*a, a->relay_count, req);
      if (!res.socket) error = res.error ? res.error : err::InsufficientCapacity;
    }
    if (error) {
      if (i == 0) {
        // The (first) requested family failed: the whole Allocate fails.
        for (uint8_t k = 0; k < a->relay_count; ++k) io_.close_relay(a->relays[k].socket);
        quotas_.release(a->quota_key);
        if (error == err::InsufficientCapacity) {
          return refuse(r, error, RefusalReason::Capacity, "no relay port available");
        }
        return reply_error(r, error);
      }
      // RFC 8656 §7.2: a dual allocation succeeds with one family and says why the other failed.
      a->family_error = error;
      a->failed_family = f;
      continue;
    }
    RelayEndpoint& ep = a->relays[a->relay_count++];
    ep.socket = res.socket;
    ep.bound = res.bound;
    ep.announced = SocketAddress(settings_.announced(res.bound.ip()), res.bound.port());
    if (res.reservation_token) a->reservation_token = res.reservation_token;
  }

  a->lifetime_s = lifetime;
  a->expires_ms = r.now.mono_ms + int64_t(lifetime) * 1000;
  Allocation& ref = *a;
  allocations_.emplace(r.tuple, std::move(a));
  rearm(ref, r.now.mono_ms);
  ++stats_.allocations_created;
  r.alloc = &ref;
  events_.session_started(ref, r.now);
  reply_allocate_success(r, ref);
}

void Server::reply_allocate_success(Request& r, Allocation& a) {
  // RFC 8656 §7.2 step 10: XOR-RELAYED-ADDRESS (one per family), LIFETIME (time left),
  // RESERVATION-TOKEN when a port was kept, XOR-MAPPED-ADDRESS.
  core::StunWriter w = begin(r, MessageClass::Success);
  for (uint8_t i = 0; i < a.relay_count; ++i) {
    w.add_xor_address(attr::XorRelayedAddress, a.relays[i].announced);
  }
  const int64_t left_ms = a.expires_ms - r.now.mono_ms;
  w.add_u32(attr::Lifetime, uint32_t(left_ms > 0 ? (left_ms + 999) / 1000 : 0));
  if (a.reservation_token) {
    uint8_t t[8];
    core::store_be64(t, *a.reservation_token);
    w.add(attr::ReservationToken, core::Bytes(t, 8));
  }
  w.add_xor_address(attr::XorMappedAddress, r.tuple.client);
  if (a.family_error) core::add_address_error_code(w, a.failed_family, a.family_error);
  finish(r, w);
}

void Server::handle_refresh(Request& r) {
  Allocation& a = *r.alloc;
  const core::StunMessage& m = r.msg;
  bool malformed = false;
  const uint32_t lifetime = granted_lifetime(m, &malformed);
  if (malformed) return reply_error(r, err::BadRequest);

  // RFC 8656 §7.3: REQUESTED-ADDRESS-FAMILY names the family being refreshed; 443 if the
  // allocation has none of it.
  std::optional<Family> only;
  if (const auto raf = m.find(attr::RequestedAddressFamily)) {
    const auto code = core::decode_address_family(m.value(*raf));
    const auto f = code ? core::family_from_code(*code) : std::nullopt;
    if (!f) return reply_error(r, err::BadRequest);
    if (!a.has_family(*f)) return reply_error(r, err::PeerAddressFamilyMismatch);
    only = f;
  }

  if (lifetime == 0) {
    if (only && a.relay_count == 2) {
      // Deleting one family of a dual allocation keeps the other.
      const uint8_t gone = a.relays[0].bound.family() == *only ? 0 : 1;
      io_.close_relay(a.relays[gone].socket);
      if (gone == 0) a.relays[0] = a.relays[1];
      for (size_t i = a.tcp_connections.size(); i-- > 0;) {
        if (tcp_.at(a.tcp_connections[i]).peer.family() == *only) close_tcp(a.tcp_connections[i]);
      }
      a.relay_count = 1;
      a.channels.for_each([&](Channel& c) {
        if (c.peer.family() == *only) unoffload_channel(a, c);
      });
      a.permissions.erase_if([&](const Permission& p) { return p.peer.family() == *only; });
      a.channels.erase_if([&](const Channel& c) { return c.peer.family() == *only; });
      core::StunWriter w = begin(r, MessageClass::Success);
      w.add_u32(attr::Lifetime, 0);
      finish(r, w);
      return;
    }
    // RFC 8656 §7.3: a lifetime of 0 deletes the allocation; the success says LIFETIME 0.
    core::StunWriter w = begin(r, MessageClass::Success);
    w.add_u32(attr::Lifetime, 0);
    r.alloc = nullptr;  // do not cache on an allocation that is going away
    finish(r, w);
    end_allocation(a, EndReason::Refresh0, r.now);
    return;
  }
  a.lifetime_s = lifetime;
  a.expires_ms = r.now.mono_ms + int64_t(lifetime) * 1000;
  rearm(a, r.now.mono_ms);
  events_.session_refreshed(a, lifetime, r.now);
  core::StunWriter w = begin(r, MessageClass::Success);
  w.add_u32(attr::Lifetime, lifetime);
  finish(r, w);
}

}  // namespace turnpike::relay
