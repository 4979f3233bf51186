// What a worker hands to the ledger writer: one plain record per event, sized for its kind.
// A counter update of a session is 64 bytes and a session's peers take what their count needs;
// only starts, ends and refusals carry names and addresses. Each is copied into the worker's
// RecordRing with no allocation, so producing one never waits on anything.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>
#include <variant>

#include "core/attributes/text.h"
#include "core/ip_address.h"
#include "core/socket_address.h"
#include "core/utf8.h"
#include "ledger/record_ring.h"

namespace turnpike::ledger {

enum class EventKind : uint8_t {
  SessionStart,   // an allocation was made
  SessionUpdate,  // counters of an active session (every 30 s, spread over the interval)
  SessionEnd,     // an allocation ended: the whole row, counters final
  SessionPeers,   // per-peer counters (several records when a session had many peers)
  Refusal,
};
inline constexpr size_t kEventKinds = 5;

// As in turnpike-admin stats and the log.
constexpr const char* event_kind_name(EventKind k) {
  switch (k) {
    case EventKind::SessionStart:
      return "start";
    case EventKind::SessionUpdate:
      return "update";
    case EventKind::SessionEnd:
      return "end";
    case EventKind::SessionPeers:
      return "peers";
    case EventKind::Refusal:
      return "refusal";
  }
  return "?";
}

template <size_t N>
struct FixedString {
  uint16_t length = 0;
  std::array<char, N> bytes{};
  void set(std::string_view s) {
    // Longer values are cut, never overflow, and never in the middle of a character.
    length = uint16_t(core::utf8_prefix(s, N));
    std::memcpy(bytes.data(), s.data(), length);
  }
  std::string_view view() const { return std::string_view(bytes.data(), length); }
};

// The start of every event: the ring's header, then what names the event.
struct EventHead {
  RecordHeader record;
  uint64_t sid = 0;   // the relay's session id (0 for a refusal)
  int64_t at_ms = 0;  // when it happened (unix ms)
};

struct SessionCounters {
  uint64_t bytes_from_client = 0;
  uint64_t packets_from_client = 0;
  uint64_t bytes_to_client = 0;
  uint64_t packets_to_client = 0;
};

// What a session's row says about it besides counters.
struct SessionIdentity {
  int64_t started_ms = 0;  // unix ms
  core::SocketAddress client;
  core::SocketAddress relay;
  core::SocketAddress relay6;
  bool has_relay = false;
  bool has_relay6 = false;
  FixedString<8> transport;   // udp, tcp, tls, dtls
  // Whole, so queries find it as it was sent; last: a record ends with the bytes it uses.
  FixedString<core::kMaxUsernameBytes> username;
};

// Bytes of `e` up to and including the `length` bytes used of the string at `last`, the last
// member: what a record of that kind needs.
template <typename E, size_t N>
size_t used_through(const E& e, const FixedString<N>& last) {
  return size_t(reinterpret_cast<const char*>(last.bytes.data()) -
                reinterpret_cast<const char*>(&e)) +
         last.length;
}

struct SessionStart {
  static constexpr EventKind kKind = EventKind::SessionStart;
  EventHead head;
  SessionIdentity session;
  size_t size() const { return used_through(*this, session.username); }
};

struct SessionUpdate {
  static constexpr EventKind kKind = EventKind::SessionUpdate;
  EventHead head;
  SessionCounters counters;
  size_t size() const { return sizeof *this; }
};

// The whole row again, so that a session whose start was lost is still recorded.
struct SessionEnd {
  static constexpr EventKind kKind = EventKind::SessionEnd;
  EventHead head;
  SessionCounters counters;
  FixedString<24> end_reason;
  SessionIdentity session;
  size_t size() const { return used_through(*this, session.username); }
};

struct PeerTraffic {
  core::IpAddress peer;
  uint64_t bytes_to_peer = 0;
  uint64_t packets_to_peer = 0;
  uint64_t bytes_from_peer = 0;
  uint64_t packets_from_peer = 0;
};

struct SessionPeers {
  static constexpr EventKind kKind = EventKind::SessionPeers;
  static constexpr size_t kMaxPeers = 8;
  EventHead head;
  uint8_t count = 0;
  std::array<PeerTraffic, kMaxPeers> peers{};
  size_t size() const {
    const size_t n = count < kMaxPeers ? count : kMaxPeers;
    return size_t(reinterpret_cast<const char*>(peers.data() + n) -
                  reinterpret_cast<const char*>(this));
  }
};

struct Refusal {
  static constexpr EventKind kKind = EventKind::Refusal;
  EventHead head;
  core::SocketAddress client;
  core::SocketAddress peer;
  bool has_peer = false;
  uint16_t code = 0;  // STUN error sent; 0 when dropped silently
  FixedString<8> transport;
  FixedString<20> method;
  FixedString<24> reason;
  FixedString<160> detail;
  FixedString<core::kMaxUsernameBytes> username;  // last
  size_t size() const { return used_through(*this, username); }
};

// One event of any kind, as the writer (and a hook on it) sees it.
using LedgerEvent = std::variant<SessionStart, SessionUpdate, SessionEnd, SessionPeers, Refusal>;

inline EventKind kind_of(const LedgerEvent& e) {
  return std::visit([](const auto& x) { return std::decay_t<decltype(x)>::kKind; }, e);
}

// The record `bytes` of `h.size` bytes (from a RecordRing) as an event; false for a kind or a
// size no producer writes.
bool decode_event(const RecordHeader& h, const std::byte* bytes, LedgerEvent& out);

template <typename E>
constexpr bool kIsEvent = std::is_same_v<E, SessionStart> || std::is_same_v<E, SessionUpdate> ||
                          std::is_same_v<E, SessionEnd> || std::is_same_v<E, SessionPeers> ||
                          std::is_same_v<E, Refusal>;

static_assert(std::is_trivially_copyable_v<SessionStart> &&
              std::is_trivially_copyable_v<SessionUpdate> &&
              std::is_trivially_copyable_v<SessionEnd> &&
              std::is_trivially_copyable_v<SessionPeers> && std::is_trivially_copyable_v<Refusal>);
static_assert(std::is_standard_layout_v<SessionStart> && std::is_standard_layout_v<SessionEnd> &&
              std::is_standard_layout_v<SessionPeers> && std::is_standard_layout_v<Refusal>);
static_assert(sizeof(SessionUpdate) <= 64, "a counter update stays one cache line");

}  // namespace turnpike::ledger
