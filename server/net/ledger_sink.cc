#include "net/ledger_sink.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "relay/allocation.h"

namespace turnpike::net {
namespace {

void fill_head(ledger::EventHead& h, uint64_t sid, const relay::Now& now) {
  h = ledger::EventHead{};
  h.sid = sid;
  h.at_ms = now.unix_ms;
}

void fill_counters(ledger::SessionCounters& c, const relay::Allocation& a) {
  c.bytes_from_client = a.from_client.bytes;
  c.packets_from_client = a.from_client.packets;
  c.bytes_to_client = a.to_client.bytes;
  c.packets_to_client = a.to_client.packets;
}

void fill_identity(ledger::SessionIdentity& s, const relay::Allocation& a) {
  s.started_ms = a.started_unix_ms;
  s.transport.set(relay::transport_name(a.five_tuple.transport));
  s.username.set(a.username);
  s.client = a.five_tuple.client;
  s.has_relay = s.has_relay6 = false;
  for (uint8_t i = 0; i < a.relay_count; ++i) {
    const auto& announced = a.relays[i].announced;
    if (!s.has_relay) {
      s.relay = announced;
      s.has_relay = true;
    } else {
      s.relay6 = announced;
      s.has_relay6 = true;
    }
  }
}

}  // namespace

void LedgerSink::push_peers(const relay::Allocation& a, const relay::Now& now) {
  // One record per kMaxPeers permissions.
  ledger::SessionPeers& e = peers_;
  e.count = 0;
  a.permissions.for_each([&](const relay::Permission& p) {
    if (e.count == 0) fill_head(e.head, a.id, now);
    e.peers[e.count++] = {p.peer, p.to_peer.bytes, p.to_peer.packets, p.from_peer.bytes,
                          p.from_peer.packets};
    if (e.count == ledger::SessionPeers::kMaxPeers) {
      push(e);
      e.count = 0;
    }
  });
  if (e.count) push(e);
}

void LedgerSink::session_started(const relay::Allocation& a, const relay::Now& now) {
  fill_head(start_.head, a.id, now);
  fill_identity(start_.session, a);
  push(start_);
  track(a);
}

void LedgerSink::session_restored(const relay::Allocation& a, const relay::Now&) {
  // Its row exists: the process before wrote its start (ledger::WriterOptions::boot).
  track(a);
}

void LedgerSink::session_handed_over(const relay::Allocation& a, const relay::Now& now) {
  // Its counters as they are now; the process after writes the rest and the end.
  session_progress(a, now);
  untrack(a);
}

void LedgerSink::untrack(const relay::Allocation& a) {
  if (auto it = places_.find(&a); it != places_.end()) {
    auto& group = groups_[it->second.group];
    const uint32_t index = it->second.index;
    group[index] = group.back();  // the last one takes its place
    places_[group[index]].index = index;
    group.pop_back();
    places_.erase(it);
  }
}

void LedgerSink::track(const relay::Allocation& a) {
  // Round robin: the groups stay within one session of each other.
  const unsigned g = next_group_;
  next_group_ = (next_group_ + 1) % kProgressTicks;
  auto& group = groups_[g];
  places_[&a] = Place{uint8_t(g), uint32_t(group.size())};
  group.push_back(&a);
}

void LedgerSink::session_progress(const relay::Allocation& a, const relay::Now& now) {
  if (before_progress_) before_progress_(a);
  ledger::SessionUpdate u;
  fill_head(u.head, a.id, now);
  fill_counters(u.counters, a);
  push(u);
  push_peers(a, now);
}

void LedgerSink::tick(const relay::Now& now) {
  producer_.flush();
  // Counters of long sessions reach the ledger every half minute, so `turnpike-admin sessions
  // --active` is current and a crash loses at most that much.
  for (const relay::Allocation* a : groups_[ticks_ % kProgressTicks]) session_progress(*a, now);
  ++ticks_;
}

void LedgerSink::session_ended(const relay::Allocation& a, relay::EndReason why,
                               const relay::Now& now) {
  untrack(a);
  // Peers first: the writer attaches them to the session row, which exists from the start.
  push_peers(a, now);
  fill_head(end_.head, a.id, now);
  fill_counters(end_.counters, a);
  end_.end_reason.set(relay::end_reason_name(why));
  fill_identity(end_.session, a);
  push(end_);
}

void LedgerSink::refused(const relay::Refusal& r) {
  ledger::Refusal& e = refusal_;
  fill_head(e.head, 0, r.now);
  e.client = r.five_tuple.client;
  e.transport.set(relay::transport_name(r.five_tuple.transport));
  const char* method = core::method_name(r.method);
  e.method.set(method ? method : "other");
  e.code = r.code;
  e.reason.set(relay::refusal_reason_name(r.reason));
  e.username.set(r.username);
  e.has_peer = bool(r.peer);
  e.peer = r.peer ? *r.peer : relay::SocketAddress();
  e.detail.set(r.detail);
  push(e);
}

}  // namespace turnpike::net
