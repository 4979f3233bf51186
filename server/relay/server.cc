#include "relay/server.h"

#include "relay/request.h"

#include <algorithm>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "core/attributes/lifetime.h"
#include "core/attributes/password_algorithms.h"
#include "core/attributes/text.h"
#include "core/attributes/unknown_attributes.h"
#include "core/channel_data.h"
#include "core/random.h"

namespace turnpike::relay {

using core::MessageClass;
using core::Method;
using core::StunMessage;
using core::StunWriter;

Server::Server(const Settings& settings, const PeerPolicy& policy, CredentialsPtr credentials,
               const core::NonceCodec& nonces, RelayIo& io, EventSink& events, QuotaBook& quotas,
               ConnectionIds& connection_ids, uint8_t worker_id, core::Random& random)
    : settings_(settings),
      policy_(policy),
      auth_(std::move(credentials), &nonces, settings.stale_nonce),
      io_(io),
      events_(events),
      quotas_(quotas),
      limiter_(settings.unauth_rate, random.next_u64()),
      connection_ids_(connection_ids),
      worker_id_(worker_id),
      hash_key_(HashKey::from(random)),
      txid_state_(random.next_u64() | 1) {}

Server::~Server() {
  for (auto& [id, c] : tcp_) {
    if (c.state != TcpConnection::State::Bound) connection_ids_.release(id);
    io_.close_peer(c.socket);
  }
  // Not a structured binding: clang before 16 cannot capture one in a lambda (C++20 allows it).
  for (auto& entry : allocations_) {
    auto& a = entry.second;
    a->channels.for_each([&](Channel& c) { unoffload_channel(*a, c); });
    for (uint8_t i = 0; i < a->relay_count; ++i) io_.close_relay(a->relays[i].socket);
    quotas_.release(a->quota_key);
  }
}

Allocation* Server::find(const FiveTuple& t) {
  auto it = allocations_.find(t);
  return it == allocations_.end() ? nullptr : it->second.get();
}

void Server::on_client_packet(const ClientRef& client, const FiveTuple& tuple, core::Bytes data,
                              const Now& now) {
  if (data.empty()) return;
  // RFC 8656 §12.4 / RFC 7983: the first two bits tell ChannelData (01) from STUN (00).
  if (core::looks_like_channel_data(data[0])) {
    on_channel_data(tuple, data, now);
    return;
  }
  auto m = StunMessage::parse(data);
  if (!m) {
    ++stats_.malformed;  // RFC 8489 §6.3: silently discarded
    return;
  }
  on_stun(client, tuple, *m, now);
}

void Server::on_stun(const ClientRef& client, const FiveTuple& tuple, const StunMessage& m,
                     const Now& now) {
  const MessageClass cls = m.message_class();
  if (cls == MessageClass::Indication) {
    if (m.method() == Method::Send) {
      if (Allocation* a = find(tuple)) handle_send_indication(*a, m, now);
    }
    return;  // RFC 8489 §6.3.2: indications are never answered
  }
  if (cls != MessageClass::Request) return;

  Request r(client, tuple, m, now);
  r.fingerprint = m.has_fingerprint() || settings_.fingerprint;
  r.alloc = find(tuple);

  if (r.alloc) {
    // RFC 8489 §6.3.4, RFC 8656 §7.2: a retransmission gets the same answer, nothing is redone.
    if (const CachedResponse* c = r.alloc->cached(m.transaction_id())) {
      io_.send_to_client(client, core::Bytes(c->bytes.data(), c->size));
      return;
    }
  }

  // RFC 8489 §7.3.1: unknown comprehension-required attributes -> 420 listing them.
  uint16_t unknown[16];
  if (const size_t n = m.unknown_comprehension_required(unknown, 16)) {
    if (!unauth_budget(r)) return;
    StunWriter w = begin(r, MessageClass::Error);
    w.add_error_code(core::error::UnknownAttribute, "");
    core::add_unknown_attributes(w, unknown, n);
    finish(r, w);
    return;
  }

  // RFC 8489 §14.3, §14.9, §14.10, §14.14: USERNAME, REALM, NONCE and SOFTWARE are UTF-8 text
  // (OpaqueString); one with a control, line-breaking, bidirectional or invisible character, or
  // bytes that are not UTF-8, is 400 (core/attributes/text.h). Its value is not recorded: only
  // which attribute it was.
  uint16_t bad_text = 0;
  m.for_each([&](const core::Attribute& at) {
    if (!bad_text && !core::is_valid_text_attribute(at.type, m.text(at))) bad_text = at.type;
  });
  if (bad_text) {
    if (!unauth_budget(r)) return;
    const std::string detail = std::string(core::text_attribute_name(bad_text)) +
                               " is not UTF-8 text without control or invisible characters, or "
                               "too long (RFC 8489 §14)";
    Refusal ref{now,          tuple,  m.method(), core::error::BadRequest, RefusalReason::InvalidText,
                {},           {},     detail};
    events_.refused(ref);
    reply_error(r, core::error::BadRequest);
    return;
  }

  const Method method = m.method();
  const bool needs_auth = method == Method::Allocate || method == Method::Refresh ||
                          method == Method::CreatePermission || method == Method::ChannelBind ||
                          method == Method::Connect || method == Method::ConnectionBind ||
                          (method == Method::Binding && settings_.secure_stun);
  if (method == Method::Binding && !needs_auth) {
    handle_binding(r);
    return;
  }
  if (!needs_auth) {
    if (unauth_budget(r)) reply_error(r, core::error::BadRequest);
    return;
  }

  // RFC 8656 §7.3, §9.2, §12.2 and RFC 6062 §5.2: Refresh, CreatePermission, ChannelBind and
  // Connect need an allocation on this 5-tuple. Without one the answer is 437 right away, before
  // authentication: a 28-byte error rather than a challenge with REALM and NONCE, so a stranger's
  // bare request earns no more than it sent (DESIGN.md "Safe by default").
  if (!r.alloc && (method == Method::Refresh || method == Method::CreatePermission ||
                   method == Method::ChannelBind || method == Method::Connect)) {
    if (unauth_budget(r)) reply_error(r, core::error::AllocationMismatch);
    return;
  }

  // RFC 8489 §9.2.4: the long-term credential mechanism.
  KnownKey known;
  if (r.alloc && r.alloc->authenticated) known = {r.alloc->username, &r.alloc->key};
  // RFC 6062 §5.4: clients sign the ConnectionBind on their new data connection with the nonce
  // they have, their control connection's (coturn's turnutils_uclient does); it is accepted when
  // the data connection comes from the same host as the control connection of the allocation
  // the CONNECTION-ID belongs to. Any other nonce must be the data connection's own.
  const std::optional<SocketAddress> control =
      method == Method::ConnectionBind ? control_connection_of(m, tuple.client) : std::nullopt;
  AuthResult a = auth_.authenticate(m, tuple.client, now, known, control ? &*control : nullptr);
  switch (a.status) {
    case AuthStatus::Ok:
      break;
    case AuthStatus::Challenge:
      if (unauth_budget(r)) challenge(r, core::error::Unauthorized);
      return;
    case AuthStatus::Unauthorized:
    case AuthStatus::StaleNonce:
    case AuthStatus::BadRequest: {
      if (!unauth_budget(r)) return;
      const uint16_t code = a.status == AuthStatus::Unauthorized ? core::error::Unauthorized
                            : a.status == AuthStatus::StaleNonce ? core::error::StaleNonce
                                                                 : core::error::BadRequest;
      Refusal ref{now, tuple, method, code, a.reason, a.username, std::nullopt, a.detail};
      events_.refused(ref);
      if (code == core::error::BadRequest) {
        reply_error(r, code);
      } else {
        challenge(r, code);
      }
      return;
    }
  }
  r.is_signed = !auth_.credentials().no_auth;
  r.key = a.key;
  r.sha256 = a.sha256;
  r.username = std::move(a.username);
  r.expired_s = a.expired_s;

  if (method == Method::Binding) {
    handle_binding(r);
    return;
  }
  if (method == Method::Allocate) {
    if (r.alloc) {
      // RFC 8656 §7.2 step 2: the 5-tuple is taken. A retransmission of the Allocate that made
      // it (whose cached answer has been overwritten) is answered as success; anything else 437.
      if (std::memcmp(r.alloc->allocate_transaction_id.data(), m.transaction_id(), 12) == 0 &&
          r.alloc->username == r.username) {
        reply_allocate_success(r, *r.alloc);
        return;
      }
      reply_error(r, core::error::AllocationMismatch);
      return;
    }
    handle_allocate(r);
    return;
  }
  if (method == Method::ConnectionBind) {
    // RFC 6062 §5.4: on a new connection of its own, which has no allocation; the username is
    // checked against the allocation that owns the connection id.
    handle_connection_bind(r);
    return;
  }
  // Refresh, CreatePermission, ChannelBind and Connect: the allocation exists (checked above).
  // RFC 8656 §5: requests on an allocation must use the credentials that made it -> 441.
  if (r.alloc->authenticated && r.username != r.alloc->username) {
    refuse(r, core::error::WrongCredentials, RefusalReason::WrongCredentials,
           "request signed by another user than the allocation's");
    return;
  }
  if (r.expired_s >= 0 && !within_expired_grace(r)) return;
  switch (method) {
    case Method::Refresh:
      handle_refresh(r);
      break;
    case Method::CreatePermission:
      handle_create_permission(r);
      break;
    case Method::ChannelBind:
      handle_channel_bind(r);
      break;
    case Method::Connect:
      handle_connect(r);
      break;
    default:
      break;
  }
}

void Server::handle_binding(Request& r) {
  // RFC 8489 §7.3.1: the reflexive address in XOR-MAPPED-ADDRESS. Nothing else is added, so an
  // unauthenticated answer stays small (20-byte request -> 32 bytes, or 40 with FINGERPRINT).
  if (!unauth_budget(r)) return;
  StunWriter w = begin(r, MessageClass::Success);
  w.add_xor_address(core::attr::XorMappedAddress, r.tuple.client);
  finish(r, w);
}

StunWriter Server::begin(Request& r, MessageClass c) {
  return StunWriter(core::MutableBytes(out_.data(), out_.size()), r.msg.method(), c,
                    r.msg.transaction_id());
}

size_t Server::unauthenticated_margin() const {
  // The largest answer to the smallest request: a 401 challenge (ERROR-CODE 8, REALM 4 + the
  // realm padded, NONCE 4 + 32, PASSWORD-ALGORITHMS 12: 60 bytes and the realm) to a bare
  // 20-byte header (an Allocate without attributes, or a Binding with secure-stun).
  return 60 + core::padded4(uint32_t(auth_.credentials().realm.size()));
}

void Server::finish(Request& r, StunWriter& w) {
  // Before authentication no answer is more than unauthenticated_margin() bytes larger than the
  // request that caused it (no amplification beyond a small fixed number of bytes). Every
  // answer is built to fit; one that would not is not sent.
  const size_t limit = r.is_signed ? 0 : r.msg.size() + unauthenticated_margin();
  seal_and_send(w, r.client, r.msg.transaction_id(), r.alloc, r.is_signed ? &r.key : nullptr,
                r.sha256, r.fingerprint, limit);
}

void Server::seal_and_send(StunWriter& w, const ClientRef& client, const uint8_t* txid,
                           Allocation* alloc, const core::LongTermKey* key, bool sha256,
                           bool fingerprint, size_t limit) {
  if (key) {
    if (sha256) {
      w.add_message_integrity_sha256(key->view());
    } else {
      w.add_message_integrity(key->view());
    }
  }
  if (fingerprint) w.add_fingerprint();
  if (!w.ok()) return;  // cannot happen with the scratch buffer's size; never send half a message
  if (limit && w.size() > limit) {
    ++stats_.oversized_unauthenticated;
    return;
  }
  io_.send_to_client(client, w.bytes());
  if (alloc && key) alloc->remember(txid, w.bytes().data(), w.size());
}

void Server::reply_error(Request& r, uint16_t code) {
  StunWriter w = begin(r, MessageClass::Error);
  // Reason phrases only to authenticated clients: unauthenticated answers stay minimal.
  w.add_error_code(code, r.is_signed ? core::error::reason_phrase(code) : "");
  finish(r, w);
}

void Server::challenge(Request& r, uint16_t code) {
  // RFC 8489 §9.2.4: 401 / 438 carry REALM, a fresh NONCE and PASSWORD-ALGORITHMS.
  StunWriter w = begin(r, MessageClass::Error);
  w.add_error_code(code, "");
  w.add_text(core::attr::Realm, auth_.credentials().realm);
  w.add_text(core::attr::Nonce, auth_.issue_nonce(r.tuple.client, r.now));
  w.add(core::attr::PasswordAlgorithms,
        core::Bytes(core::kPasswordAlgorithmsValue, sizeof core::kPasswordAlgorithmsValue));
  finish(r, w);
}

bool Server::unauth_budget(Request& r) {
  if (r.is_signed) return true;
  if (limiter_.allow(r.tuple.client.ip(), r.now.mono_ms)) return true;
  ++stats_.unauth_rate_limited;
  return false;
}

void Server::refuse(Request& r, uint16_t code, RefusalReason why, std::string_view detail,
                    const std::optional<SocketAddress>& peer) {
  Refusal ref{r.now, r.tuple, r.msg.method(), code, why, r.username, peer, detail};
  events_.refused(ref);
  reply_error(r, code);
}

void Server::end_allocation(Allocation& a, EndReason why, const Now& now) {
  // RFC 6062: the peer connections (and their data connections) go with the allocation. Their
  // bytes are counted already, so the counters below are final.
  while (!a.tcp_connections.empty()) close_tcp(a.tcp_connections.back());
  // What the kernel relayed counts too: its flows go first, so the counters below are final.
  a.channels.for_each([&](Channel& c) { unoffload_channel(a, c); });
  events_.session_ended(a, why, now);
  for (uint8_t i = 0; i < a.relay_count; ++i) io_.close_relay(a.relays[i].socket);
  quotas_.release(a.quota_key);
  const FiveTuple key = a.five_tuple;
  allocations_.erase(key);  // destroys `a`
}

void Server::on_client_closed(const FiveTuple& tuple, const Now& now) {
  if (Allocation* a = find(tuple)) end_allocation(*a, EndReason::ClientClosed, now);
}

void Server::tick(const Now& now) {
  wheel_.expire(now.mono_ms, [&](TimerHook& h) {
    if (h.timer_kind() == kTimerAllocation) {
      expire_allocation(static_cast<Allocation&>(h), now);
    } else {
      expire_tcp(static_cast<TcpConnection&>(h), now);
    }
  });
}

int64_t Server::next_deadline(Allocation& a) {
  int64_t next = a.expires_ms;
  a.permissions.for_each([&](const Permission& p) { next = std::min(next, p.expires_ms); });
  a.channels.for_each([&](const Channel& c) {
    // A kernel flow goes at the channel's expiry (at its permission's: above); the binding at
    // the end of its cooling.
    if (c.offload) next = std::min(next, c.expires_ms);
    next = std::min(next, c.expires_ms + kChannelCoolingMs);
  });
  return next;
}

void Server::expire_allocation(Allocation& a, const Now& now) {
  {
    if (a.expires_ms <= now.mono_ms) {
      end_allocation(a, EndReason::Expired, now);
      return;
    }
    // The kernel stopped relaying at the deadline already; its flow goes now, counted while the
    // permission it counts into is still there.
    a.channels.for_each([&](Channel& c) {
      if (!c.offload) return;
      const Permission* p = a.find_permission(c.peer.ip());
      if (c.expires_ms <= now.mono_ms || !p || p->expires_ms <= now.mono_ms) {
        unoffload_channel(a, c);
      }
    });
    // RFC 8656 §9: permissions expire after their lifetime unless refreshed.
    a.permissions.erase_if([&](const Permission& p) { return p.expires_ms <= now.mono_ms; });
    // RFC 8656 §12: channel bindings expire, then stay reserved for five more minutes.
    a.channels.erase_if([&](const Channel& c) {
      return c.expires_ms + kChannelCoolingMs <= now.mono_ms;
    });
  }
  rearm(a, now.mono_ms);
}

void Server::shutdown(const Now& now) {
  while (!allocations_.empty())
    end_allocation(*allocations_.begin()->second, EndReason::Shutdown, now);
}

std::optional<IpAddress> Server::choose_relay_ip(Family f, const IpAddress& reached) const {
  for (const IpAddress& ip : settings_.relay_addresses) {
    // coturn's default: relay on the address the client reached, when it has the right family.
    if (ip == reached && ip.family() == f) return ip;
  }
  for (const IpAddress& ip : settings_.relay_addresses) {
    if (ip.family() == f) return ip;
  }
  return std::nullopt;
}

uint32_t Server::granted_lifetime(const StunMessage& m, bool* malformed) const {
  *malformed = false;
  const auto attr = m.find(core::attr::Lifetime);
  if (!attr) return settings_.default_lifetime;
  const auto v = core::decode_lifetime(m.value(*attr));
  if (!v) {
    *malformed = true;
    return 0;
  }
  if (*v == 0) return 0;
  // RFC 8656 §7.2, §7.3: the smaller of the requested and the maximum lifetime, but never less
  // than the default.
  return std::max(std::min(*v, settings_.max_lifetime), settings_.default_lifetime);
}

void Server::fill_indication_txid(uint8_t* out) {
  // xorshift64* seeded from the CSPRNG: transaction IDs of Data indications need to be unique,
  // not secret, and this runs per relayed packet.
  for (int i = 0; i < 12; i += 4) {
    txid_state_ ^= txid_state_ >> 12;
    txid_state_ ^= txid_state_ << 25;
    txid_state_ ^= txid_state_ >> 27;
    const uint32_t v = uint32_t((txid_state_ * 0x2545F4914F6CDD1Dull) >> 32);
    std::memcpy(out + i, &v, 4);
  }
}

}  // namespace turnpike::relay
