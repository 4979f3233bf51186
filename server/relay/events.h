// What the relay tells the outside world: sessions starting and ending, and every refusal with
// its reason. The network layer logs them; the ledger records them.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/stun_types.h"
#include "relay/types.h"

namespace turnpike::relay {

struct Allocation;

enum class EndReason : uint8_t {
  Refresh0,      // the client deleted it (Refresh with LIFETIME 0)
  Expired,       // not refreshed in time
  ClientClosed,  // its TCP/TLS connection closed
  Quota,
  Shutdown,     // the server stopped
  Interrupted,  // found open after a crash (ledger only)
  Disconnected,  // an administrator ended it (turnpike-admin disconnect)
};
const char* end_reason_name(EndReason r);

enum class RefusalReason : uint8_t {
  BadIntegrity,       // MESSAGE-INTEGRITY does not match (wrong password or secret)
  ExpiredCredential,  // REST username whose expiry is past
  CredentialTooLong,  // REST expiry further ahead than max-credential-ttl
  UnknownUser,        // no such static user, or not a REST username
  StaleNonce,
  BadNonce,  // not one of ours, or issued to another address
  ForbiddenPeer,
  Quota,             // user-quota (486) or total-quota (508)
  WrongCredentials,  // a request on an allocation with another username (441)
  Capacity,          // no relay port left (508)
  BadRequest,
  InvalidText,  // USERNAME, REALM, NONCE or SOFTWARE not UTF-8 text (RFC 8489 §14.3), 400
  Draining,     // Allocate while draining (turnpike-admin drain, SIGUSR1): 300 or 403
};
const char* refusal_reason_name(RefusalReason r);
// A refusal of what a credential holder asked for after authenticating (a forbidden peer, a
// quota, another user's allocation, no capacity), as opposed to a stranger's noise (bad nonce,
// integrity, malformed text): the log keeps a separate budget for each, so noise cannot crowd
// these out.
bool is_credential_holder_refusal(RefusalReason r);

struct Refusal {
  Now now;
  FiveTuple five_tuple;
  core::Method method = core::Method::Binding;
  uint16_t code = 0;  // the STUN error code sent (0: dropped silently)
  RefusalReason reason = RefusalReason::BadRequest;
  std::string_view username;          // as the client sent it (may be empty)
  std::optional<SocketAddress> peer;  // for ForbiddenPeer
  std::string_view detail;            // human detail: which range, which expiry, ...
};

class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void session_started(const Allocation& a, const Now& now) = 0;
  virtual void session_refreshed(const Allocation&, uint32_t /*lifetime_s*/, const Now&) {}
  virtual void permission_installed(const Allocation&, const IpAddress& /*peer*/, const Now&) {}
  virtual void channel_bound(const Allocation&, uint16_t /*channel*/, const SocketAddress& /*peer*/,
                             const Now&) {}
  // Called just before the allocation is destroyed; its counters are final.
  virtual void session_ended(const Allocation& a, EndReason why, const Now& now) = 0;
  virtual void refused(const Refusal& r) = 0;
  // Hand-over (relay/handover.cc): an allocation taken over from the process before, which
  // recorded its start; and one handed over to the process after, which will record its end.
  virtual void session_restored(const Allocation&, const Now&) {}
  virtual void session_handed_over(const Allocation&, const Now&) {}
};

}  // namespace turnpike::relay
