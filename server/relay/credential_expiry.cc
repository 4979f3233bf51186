// What an allocation may still do once its REST credential has expired (expired-credential-grace).
//
// A Refresh signed with the allocation's own key skips the credential's expiry (the key was
// proven when the allocation was made), so without a rule a leaked credential would keep an
// allocation forever; coturn instead fails the first Refresh after expiry, and a meeting longer
// than the credential's TTL loses its relay. Here, once the credential has expired:
//  - nothing new: no allocation (Authenticator refuses it: no known key), no permission or channel
//    for a peer the allocation has no live permission for, no Connect (RFC 6062: each is a new
//    peer connection) -> 403, signed, reason "credential expired";
//  - what exists goes on: Refresh, and CreatePermission / ChannelBind for peers that have a
//    permission (WebRTC clients send these every few minutes), for `expired_credential_grace`
//    seconds after the expiry;
//  - past the grace, every request -> 401 (as for any expired credential): the allocation ends
//    when its lifetime runs out, at most max-allocate-lifetime later.
#include <cstdint>
#include <optional>
#include <string>

#include "relay/request.h"
#include "relay/server.h"

namespace turnpike::relay {

namespace err = core::error;

bool Server::within_expired_grace(Request& r) {
  if (r.expired_s > int64_t(settings_.expired_credential_grace)) {
    const std::string detail = "credential expired " + std::to_string(r.expired_s) +
                               " s ago, beyond expired-credential-grace=" +
                               std::to_string(settings_.expired_credential_grace);
    Refusal ref{r.now,   r.tuple,      r.msg.method(), err::Unauthorized,
                RefusalReason::ExpiredCredential, r.username, std::nullopt, detail};
    events_.refused(ref);
    // Answered like any request with an expired credential: an unsigned challenge.
    r.is_signed = false;
    if (unauth_budget(r)) challenge(r, err::Unauthorized);
    return false;
  }
  if (r.msg.method() == core::Method::Connect) {
    refuse(r, err::Forbidden, RefusalReason::ExpiredCredential,
           "credential expired " + std::to_string(r.expired_s) +
               " s ago: no new peer connection (Connect) after expiry");
    return false;
  }
  return true;
}

bool Server::known_peer_after_expiry(Request& r, const IpAddress& peer) {
  if (r.expired_s < 0) return true;
  Permission* p = nullptr;
  if (permitted(*r.alloc, peer, r.now.mono_ms, &p)) return true;
  refuse(r, err::Forbidden, RefusalReason::ExpiredCredential,
         "credential expired " + std::to_string(r.expired_s) +
             " s ago: no permission or channel for a new peer after expiry",
         SocketAddress(peer, 0));
  return false;
}

}  // namespace turnpike::relay
