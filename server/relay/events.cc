#include "relay/events.h"

namespace turnpike::relay {

const char* transport_name(Transport t) {
  switch (t) {
    case Transport::Udp:
      return "udp";
    case Transport::Tcp:
      return "tcp";
    case Transport::Tls:
      return "tls";
    case Transport::Dtls:
      return "dtls";
  }
  return "?";
}

const char* end_reason_name(EndReason r) {
  switch (r) {
    case EndReason::Refresh0:
      return "refresh-0";
    case EndReason::Expired:
      return "expired";
    case EndReason::ClientClosed:
      return "client-closed";
    case EndReason::Quota:
      return "quota";
    case EndReason::Shutdown:
      return "shutdown";
    case EndReason::Interrupted:
      return "interrupted";
    case EndReason::Disconnected:
      return "disconnected";
  }
  return "?";
}

bool is_credential_holder_refusal(RefusalReason r) {
  switch (r) {
    case RefusalReason::ForbiddenPeer:
    case RefusalReason::Quota:
    case RefusalReason::WrongCredentials:
    case RefusalReason::Capacity:
      return true;
    default:
      return false;
  }
}

const char* refusal_reason_name(RefusalReason r) {
  switch (r) {
    case RefusalReason::BadIntegrity:
      return "bad-integrity";
    case RefusalReason::ExpiredCredential:
      return "expired-credential";
    case RefusalReason::CredentialTooLong:
      return "credential-too-long";
    case RefusalReason::UnknownUser:
      return "unknown-user";
    case RefusalReason::StaleNonce:
      return "stale-nonce";
    case RefusalReason::BadNonce:
      return "bad-nonce";
    case RefusalReason::ForbiddenPeer:
      return "forbidden-peer";
    case RefusalReason::Quota:
      return "quota";
    case RefusalReason::WrongCredentials:
      return "wrong-credentials";
    case RefusalReason::Capacity:
      return "capacity";
    case RefusalReason::BadRequest:
      return "bad-request";
    case RefusalReason::InvalidText:
      return "invalid-text";
    case RefusalReason::Draining:
      return "draining";
  }
  return "?";
}

}  // namespace turnpike::relay
