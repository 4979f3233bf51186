// The control plane of the load generator: allocation set-up, pipelined over many sessions.
// Each session does what a WebRTC client does (RFC 8656 §7.1, §9.1, §12.1; long-term
// authentication of RFC 8489 §9.2): Allocate without credentials -> 401 with REALM and NONCE ->
// Allocate signed with MESSAGE-INTEGRITY -> CreatePermission -> ChannelBind, retransmitting on
// timeout and following 438 Stale Nonce. A server without authentication (the floor) answers
// the first Allocate with success and the exchange goes on unsigned.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "loadgen/options.h"
#include "loadgen/session.h"

namespace bench {

struct SetupResult {
  unsigned done = 0;
  unsigned failed = 0;
  uint64_t requests = 0;  // requests sent, retransmissions included
  uint64_t retransmits = 0;
  int64_t elapsed_ns = 0;
  std::map<uint16_t, unsigned> errors;  // final error code (0: timeout) -> sessions
  std::string realm;
};

// Sets up every session in `sessions`, at most `concurrency` at a time.
SetupResult run_setup(std::vector<Session>& sessions, const Options& o);

// Sends one unauthenticated Allocate from every session's socket and counts the answers that
// arrive within `wait_s` seconds (no retransmission).
struct UnauthResult {
  unsigned sent = 0;
  unsigned answered = 0;
  std::map<uint16_t, unsigned> codes;
};
UnauthResult run_unauth(std::vector<Session>& sessions, double wait_s);

}  // namespace bench
