// The hand-over state (DESIGN.md "Restart and upgrade without dropping calls"): what a running
// turnpike passes to the freshly executed copy of itself that takes its place, so that UDP
// allocations go on with the same relayed addresses, permissions and channels, and the ledger
// keeps one row per session. A wire format like any other: plain values, encoded and decoded
// here without I/O, versioned. The sockets themselves travel beside it (SCM_RIGHTS); the state
// names them by their index in that list.
//
//   "TPHS" | version u16 | flags u16 (0) | body length u32 | body
//
// Every integer is big-endian. A reader refuses a version newer than its own (the running
// process then keeps going: a downgrade is a restart), and refuses a body with anything out of
// range, truncated or left over: the state comes from another binary, so it is checked like a
// packet from a stranger.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/hmac.h"
#include "core/socket_address.h"

namespace turnpike::core {

inline constexpr uint16_t kHandoverVersion = 1;

// Hard caps, so that a hostile or damaged state cannot make the reader allocate without bound.
inline constexpr uint32_t kHandoverMaxWorkers = 1024;
inline constexpr uint32_t kHandoverMaxFds = 1u << 20;
inline constexpr uint32_t kHandoverMaxListeners = 65536;
inline constexpr uint32_t kHandoverMaxAllocations = 1u << 20;
inline constexpr uint32_t kHandoverMaxPermissions = 65535;
inline constexpr uint32_t kHandoverMaxChannels = 16384;  // RFC 8656 §12: 0x4000-0x7FFF
inline constexpr uint32_t kHandoverMaxText = 1024;
inline constexpr uint32_t kHandoverMaxCounters = 64;

// Index into the list of file descriptors sent with the state.
using HandoverFd = uint32_t;

struct HandoverWorker {
  uint64_t next_session = 1;       // the session counter of its relay::Server
  std::vector<uint64_t> counters;  // its relay::ServerStats, in declaration order
  friend bool operator==(const HandoverWorker&, const HandoverWorker&) = default;
};

// Http: the check page's HTTPS listener (check-listening-port), on no worker (worker 0).
enum class HandoverListenerKind : uint8_t { Udp = 0, Tcp = 1, Tls = 2, Mux = 3, Dtls = 4, Http = 5 };

struct HandoverListener {
  HandoverListenerKind kind = HandoverListenerKind::Udp;
  bool proxy_protocol = false;
  uint16_t worker = 0;
  SocketAddress address;
  HandoverFd fd = 0;
  friend bool operator==(const HandoverListener&, const HandoverListener&) = default;
};

struct HandoverTraffic {
  uint64_t bytes = 0;
  uint64_t packets = 0;
  friend bool operator==(const HandoverTraffic&, const HandoverTraffic&) = default;
};

struct HandoverPermission {
  IpAddress peer;
  int64_t expires_ms = 0;  // CLOCK_MONOTONIC, the same clock in both processes
  HandoverTraffic to_peer;
  HandoverTraffic from_peer;
  friend bool operator==(const HandoverPermission&, const HandoverPermission&) = default;
};

struct HandoverChannel {
  uint16_t number = 0;
  SocketAddress peer;
  int64_t expires_ms = 0;
  friend bool operator==(const HandoverChannel&, const HandoverChannel&) = default;
};

struct HandoverRelay {
  HandoverFd fd = 0;
  SocketAddress bound;
  SocketAddress announced;
  friend bool operator==(const HandoverRelay&, const HandoverRelay&) = default;
};

// One allocation of a UDP client (RFC 8656 §2.2): what relay::Allocation holds, less what is
// only meaningful inside one process (pointers, cached responses, kernel flow handles).
struct HandoverAllocation {
  uint16_t worker = 0;
  uint64_t id = 0;  // the session id the ledger knows it by
  SocketAddress client;
  SocketAddress server;  // the listener address the client reached
  std::string username;
  HashAlgorithm key_algorithm = HashAlgorithm::Md5;  // the long-term key (RFC 8489 §9.2.2)
  std::array<uint8_t, 32> key{};
  bool authenticated = false;
  bool sha256 = false;
  bool fingerprint = false;
  bool dont_fragment = false;
  std::vector<HandoverRelay> relays;  // one, or two for a dual allocation (RFC 8656 §7.2)
  int64_t started_unix_ms = 0;
  int64_t expires_ms = 0;
  uint32_t lifetime_s = 0;
  std::array<uint8_t, 12> allocate_transaction_id{};
  uint16_t family_error = 0;
  Family failed_family = Family::V6;
  std::string quota_key;
  std::vector<HandoverPermission> permissions;
  std::vector<HandoverChannel> channels;
  HandoverTraffic from_client;
  HandoverTraffic to_client;
  uint64_t dropped = 0;
  friend bool operator==(const HandoverAllocation&, const HandoverAllocation&) = default;
};

struct HandoverState {
  std::array<uint8_t, 32> nonce_key{};  // nonces issued before the hand-over stay valid
  std::string ledger_boot;              // the ledger's run id: the sessions keep their rows
  uint32_t fd_count = 0;                // file descriptors sent with the state
  std::vector<HandoverWorker> workers;
  std::vector<HandoverListener> listeners;
  std::vector<HandoverAllocation> allocations;
  friend bool operator==(const HandoverState&, const HandoverState&) = default;
};

std::vector<uint8_t> encode_handover(const HandoverState& s);

enum class HandoverDecodeError : uint8_t { None, NotHandover, UnsupportedVersion, Malformed };

struct HandoverDecoded {
  std::optional<HandoverState> state;
  HandoverDecodeError error = HandoverDecodeError::None;
  uint16_t version = 0;  // as written, when the header could be read
  std::string why;       // what was wrong, for the log line
};

// `max_version`: the newest version this reader accepts (kHandoverVersion; lower only to test
// the refusal).
HandoverDecoded decode_handover(Bytes in, uint16_t max_version = kHandoverVersion);

}  // namespace turnpike::core
