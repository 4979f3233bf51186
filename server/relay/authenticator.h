// The long-term credential mechanism on the server side (RFC 8489 §9.2.4) with the TURN REST
// API (coturn's use-auth-secret) and static users, over stateless nonces.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "core/long_term_key.h"
#include "core/stateless_nonce.h"
#include "core/stun_message.h"
#include "relay/credentials.h"
#include "relay/events.h"
#include "relay/types.h"

namespace turnpike::relay {

enum class AuthStatus : uint8_t {
  Ok,
  Challenge,     // no integrity at all: the normal first request, answered 401 (not a refusal)
  Unauthorized,  // 401: wrong password/secret, unknown user, expired credential
  BadRequest,    // 400: missing USERNAME/REALM/NONCE, malformed values, algorithm bid-down
  StaleNonce,    // 438: a fresh NONCE goes back
};

// A key already proven for an allocation, so later requests skip the derivation.
struct KnownKey {
  std::string_view username;
  const core::LongTermKey* key = nullptr;
};

struct AuthResult {
  AuthStatus status = AuthStatus::Challenge;
  RefusalReason reason = RefusalReason::BadRequest;  // when refused
  std::string detail;                                // for the log line and the ledger
  std::string username;                              // as resolved (USERHASH resolved to a name)
  core::LongTermKey key;                             // signs the response when Ok
  bool sha256 = false;  // the request used MESSAGE-INTEGRITY-SHA256; answer in kind
  // A REST credential past its expiry, accepted only because it signs a request on the
  // allocation it made (KnownKey): how many seconds ago it expired; -1 when it has not. The
  // server decides what it may still do (credential_expiry.cc).
  int64_t expired_s = -1;
};

class Authenticator {
 public:
  Authenticator(CredentialsPtr credentials, const core::NonceCodec* nonces, uint32_t stale_nonce_s)
      : credentials_(std::move(credentials)), nonces_(nonces), stale_nonce_s_(stale_nonce_s) {}

  // `nonce_also`: another address whose nonces are accepted too (RFC 6062 ConnectionBind: the
  // allocation's control connection, see Server::on_stun).
  AuthResult authenticate(const core::StunMessage& m, const SocketAddress& client, const Now& now,
                          const KnownKey& known = {},
                          const SocketAddress* nonce_also = nullptr) const;

  std::string issue_nonce(const SocketAddress& client, const Now& now) const {
    return nonces_->issue(client, now.unix_s());
  }
  const Credentials& credentials() const { return *credentials_; }
  void set_credentials(CredentialsPtr c) { credentials_ = std::move(c); }

 private:
  bool verify(const core::StunMessage& m, const core::LongTermKey& key, bool sha256) const;
  CredentialsPtr credentials_;
  const core::NonceCodec* nonces_;
  uint32_t stale_nonce_s_;
};

}  // namespace turnpike::relay
