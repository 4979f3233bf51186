// What a worker hands to the ledger writer: a fixed-size record, copied into a ring slot with
// no allocation, so producing one never waits on anything.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

#include "core/attributes/text.h"
#include "core/socket_address.h"
#include "core/utf8.h"

namespace turnpike::ledger {

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

struct PeerTraffic {
  core::IpAddress peer;
  uint64_t bytes_to_peer = 0;
  uint64_t packets_to_peer = 0;
  uint64_t bytes_from_peer = 0;
  uint64_t packets_from_peer = 0;
};

enum class EventKind : uint8_t {
  SessionStart,   // an allocation was made
  SessionUpdate,  // counters of an active session (periodically)
  SessionEnd,     // an allocation ended; counters are final
  SessionPeers,   // per-peer counters (several events when a session had many peers)
  Refusal,
};

struct LedgerEvent {
  static constexpr size_t kMaxPeers = 8;

  EventKind kind = EventKind::SessionStart;
  uint64_t sid = 0;        // the relay's session id
  int64_t at_ms = 0;       // when it happened (unix ms)
  int64_t started_ms = 0;  // session start (unix ms)
  FixedString<24> transport;
  FixedString<core::kMaxUsernameBytes> username;  // whole: queries find it as it was sent
  core::SocketAddress client;
  core::SocketAddress relay;
  core::SocketAddress relay6;
  bool has_relay = false;
  bool has_relay6 = false;
  FixedString<24> end_reason;
  uint64_t bytes_from_client = 0;
  uint64_t packets_from_client = 0;
  uint64_t bytes_to_client = 0;
  uint64_t packets_to_client = 0;
  // Refusal
  FixedString<20> method;
  uint16_t code = 0;
  FixedString<24> reason;
  core::SocketAddress peer;
  bool has_peer = false;
  FixedString<160> detail;
  // SessionPeers
  uint8_t peer_count = 0;
  std::array<PeerTraffic, kMaxPeers> peers{};
};

static_assert(std::is_trivially_copyable_v<LedgerEvent>);

}  // namespace turnpike::ledger
