#include "net/ledger_sink.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "relay/allocation.h"

namespace turnpike::net {

void LedgerSink::fill_session(ledger::LedgerEvent& e, const relay::Allocation& a,
                              const relay::Now& now) {
  e = ledger::LedgerEvent{};
  e.sid = a.id;
  e.at_ms = now.unix_ms;
  e.started_ms = a.started_unix_ms;
  e.transport.set(relay::transport_name(a.five_tuple.transport));
  e.username.set(a.username);
  e.client = a.five_tuple.client;
  for (uint8_t i = 0; i < a.relay_count; ++i) {
    const auto& announced = a.relays[i].announced;
    if (!e.has_relay) {
      e.relay = announced;
      e.has_relay = true;
    } else {
      e.relay6 = announced;
      e.has_relay6 = true;
    }
  }
  e.bytes_from_client = a.from_client.bytes;
  e.packets_from_client = a.from_client.packets;
  e.bytes_to_client = a.to_client.bytes;
  e.packets_to_client = a.to_client.packets;
}

void LedgerSink::push_peers(const relay::Allocation& a, const relay::Now& now) {
  ledger::LedgerEvent& e = event_;
  size_t i = 0;
  while (i < a.permissions.size()) {
    e = ledger::LedgerEvent{};
    e.kind = ledger::EventKind::SessionPeers;
    e.sid = a.id;
    e.at_ms = now.unix_ms;
    for (; i < a.permissions.size() && e.peer_count < ledger::LedgerEvent::kMaxPeers; ++i) {
      const relay::Permission& p = a.permissions[i];
      e.peers[e.peer_count++] = {p.peer, p.to_peer.bytes, p.to_peer.packets, p.from_peer.bytes,
                                 p.from_peer.packets};
    }
    push(e);
  }
}

void LedgerSink::session_started(const relay::Allocation& a, const relay::Now& now) {
  fill_session(event_, a, now);
  event_.kind = ledger::EventKind::SessionStart;
  push(event_);
}

void LedgerSink::session_progress(const relay::Allocation& a, const relay::Now& now) {
  fill_session(event_, a, now);
  event_.kind = ledger::EventKind::SessionUpdate;
  push(event_);
  push_peers(a, now);
}

void LedgerSink::session_ended(const relay::Allocation& a, relay::EndReason why,
                               const relay::Now& now) {
  // Peers first: the writer attaches them to the session row, which exists from the start.
  push_peers(a, now);
  fill_session(event_, a, now);
  event_.kind = ledger::EventKind::SessionEnd;
  event_.end_reason.set(relay::end_reason_name(why));
  push(event_);
}

void LedgerSink::refused(const relay::Refusal& r) {
  ledger::LedgerEvent& e = event_;
  e = ledger::LedgerEvent{};
  e.kind = ledger::EventKind::Refusal;
  e.at_ms = r.now.unix_ms;
  e.client = r.five_tuple.client;
  e.transport.set(relay::transport_name(r.five_tuple.transport));
  const char* method = core::method_name(r.method);
  e.method.set(method ? method : "other");
  e.code = r.code;
  e.reason.set(relay::refusal_reason_name(r.reason));
  e.username.set(r.username);
  if (r.peer) {
    e.peer = *r.peer;
    e.has_peer = true;
  }
  e.detail.set(r.detail);
  push(e);
}

}  // namespace turnpike::net
