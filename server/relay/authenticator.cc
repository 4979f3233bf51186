#include "relay/authenticator.h"

#include <array>
#include <cstring>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "core/attributes/password_algorithms.h"
#include "core/message_integrity.h"
#include "core/rest_credentials.h"

namespace turnpike::relay {
namespace {

using core::HashAlgorithm;
using core::StunMessage;

AuthResult refuse(AuthStatus s, RefusalReason r, std::string detail, std::string username = {}) {
  AuthResult a;
  a.status = s;
  a.reason = r;
  a.detail = std::move(detail);
  a.username = std::move(username);
  return a;
}

}  // namespace

bool Authenticator::verify(const StunMessage& m, const core::LongTermKey& key, bool sha256) const {
  return sha256 ? core::verify_message_integrity_sha256(m, key.view())
                : core::verify_message_integrity(m, key.view());
}

AuthResult Authenticator::authenticate(const StunMessage& m, const SocketAddress& client,
                                       const Now& now, const KnownKey& known,
                                       const SocketAddress* nonce_also) const {
  const Credentials& creds = *credentials_;
  if (creds.no_auth) {
    AuthResult ok;
    ok.status = AuthStatus::Ok;
    return ok;
  }
  const bool sha256 = m.message_integrity_sha256().has_value();
  // RFC 8489 §9.2.4: no MESSAGE-INTEGRITY(-SHA256) -> 401 with REALM and NONCE.
  if (!sha256 && !m.message_integrity())
    return refuse(AuthStatus::Challenge, RefusalReason::BadRequest, "");

  const auto username_attr = m.find(core::attr::Username);
  const auto userhash_attr = m.find(core::attr::Userhash);
  const auto realm_attr = m.find(core::attr::Realm);
  const auto nonce_attr = m.find(core::attr::Nonce);
  if ((!username_attr && !userhash_attr) || !realm_attr || !nonce_attr) {
    return refuse(AuthStatus::BadRequest, RefusalReason::BadRequest,
                  "integrity without USERNAME, REALM or NONCE");
  }
  const std::string_view realm = m.text(*realm_attr);
  const std::string_view nonce = m.text(*nonce_attr);
  std::string_view username = username_attr ? m.text(*username_attr) : std::string_view();
  // Server::on_stun has refused (400) any of them that is not valid text (RFC 8489 §14.3).

  // Stateless nonce: ours, for this address, and fresh (RFC 8489 §9.2.4 step 3 -> 438).
  core::NonceCodec::Check nonce_check = nonces_->check(nonce, client, now.unix_s(), stale_nonce_s_);
  if (nonce_check == core::NonceCodec::Check::Invalid && nonce_also) {
    nonce_check = nonces_->check(nonce, *nonce_also, now.unix_s(), stale_nonce_s_);
  }
  switch (nonce_check) {
    case core::NonceCodec::Check::Valid:
      break;
    case core::NonceCodec::Check::Stale:
      return refuse(AuthStatus::StaleNonce, RefusalReason::StaleNonce, "nonce expired",
                    std::string(username));
    case core::NonceCodec::Check::Invalid:
      return refuse(AuthStatus::StaleNonce, RefusalReason::BadNonce,
                    "nonce not issued by this server to this address", std::string(username));
  }

  // RFC 8489 §9.2.4: PASSWORD-ALGORITHMS must come back exactly as sent (bid-down protection)
  // together with a PASSWORD-ALGORITHM from it; neither at all means MD5.
  HashAlgorithm algorithm = HashAlgorithm::Md5;
  const auto algs = m.find(core::attr::PasswordAlgorithms);
  const auto alg = m.find(core::attr::PasswordAlgorithm);
  if (algs || alg) {
    if (!algs || !alg) {
      return refuse(AuthStatus::BadRequest, RefusalReason::BadRequest,
                    "PASSWORD-ALGORITHM and PASSWORD-ALGORITHMS must come together");
    }
    const auto v = m.value(*algs);
    if (v.size() != sizeof core::kPasswordAlgorithmsValue ||
        std::memcmp(v.data(), core::kPasswordAlgorithmsValue, v.size()) != 0) {
      return refuse(AuthStatus::BadRequest, RefusalReason::BadRequest,
                    "PASSWORD-ALGORITHMS differs from what the server offered");
    }
    auto chosen = core::decode_password_algorithm(m.value(*alg));
    if (!chosen) {
      return refuse(AuthStatus::BadRequest, RefusalReason::BadRequest,
                    "unknown PASSWORD-ALGORITHM");
    }
    algorithm = *chosen;
  }

  std::string name(username);
  if (!username_attr) {
    // USERHASH (RFC 8489 §14.4): only static users can be found by it.
    const auto h = m.value(*userhash_attr);
    auto it =
        creds.users_by_hash.find(std::string(reinterpret_cast<const char*>(h.data()), h.size()));
    if (it == creds.users_by_hash.end()) {
      return refuse(AuthStatus::Unauthorized, RefusalReason::UnknownUser,
                    "USERHASH of no known user");
    }
    name = it->second;
  }
  if (realm != creds.realm) {
    return refuse(
        AuthStatus::Unauthorized, RefusalReason::BadIntegrity,
        "client used realm '" + std::string(realm) + "', the server's is '" + creds.realm + "'",
        name);
  }

  AuthResult ok;
  ok.status = AuthStatus::Ok;
  ok.username = name;
  ok.sha256 = sha256;

  // A key proven earlier on this allocation: no derivation.
  if (known.key && known.username == name && known.key->algorithm == algorithm) {
    if (verify(m, *known.key, sha256)) {
      ok.key = *known.key;
      // The key stays proven, but its credential may have run out since: say so.
      if (creds.rest_enabled && !creds.users.count(name)) {
        const auto c = core::check_rest_username(name, creds.separator, now.unix_s(), creds.max_ttl);
        if (c.status == core::RestUsernameCheck::Status::Expired) ok.expired_s = c.seconds;
      }
      return ok;
    }
    return refuse(AuthStatus::Unauthorized, RefusalReason::BadIntegrity,
                  "MESSAGE-INTEGRITY does not match this allocation's key", name);
  }

  if (auto it = creds.users.find(name); it != creds.users.end()) {
    const StaticUserEntry& u = it->second;
    if (u.password.empty()) {
      if (algorithm != HashAlgorithm::Md5 || !u.md5_key) {
        return refuse(AuthStatus::Unauthorized, RefusalReason::BadIntegrity,
                      "user has only an MD5 key; SHA-256 passwords need the password", name);
      }
      std::memcpy(ok.key.bytes.data(), u.md5_key->data(), 16);
      ok.key.algorithm = HashAlgorithm::Md5;
    } else {
      ok.key = core::long_term_key(algorithm, name, creds.realm, u.password);
    }
    if (verify(m, ok.key, sha256)) return ok;
    return refuse(AuthStatus::Unauthorized, RefusalReason::BadIntegrity, "wrong password", name);
  }

  if (!creds.rest_enabled) {
    return refuse(AuthStatus::Unauthorized, RefusalReason::UnknownUser, "no such user", name);
  }
  using Check = core::RestUsernameCheck::Status;
  const auto check = core::check_rest_username(name, creds.separator, now.unix_s(), creds.max_ttl);
  switch (check.status) {
    case Check::NotRest:
      return refuse(AuthStatus::Unauthorized, RefusalReason::UnknownUser,
                    "not a TURN REST username (expected <expiry>" +
                        std::string(1, creds.separator) + "<user>) and no such static user",
                    name);
    case Check::Expired:
      return refuse(AuthStatus::Unauthorized, RefusalReason::ExpiredCredential,
                    "credential expired " + std::to_string(check.seconds) + " s ago", name);
    case Check::TooFarAhead:
      return refuse(AuthStatus::Unauthorized, RefusalReason::CredentialTooLong,
                    "credential expires " + std::to_string(check.seconds) +
                        " s ahead, more than max-credential-ttl=" + std::to_string(creds.max_ttl),
                    name);
    case Check::Ok:
      break;
  }
  // Every secret is tried, newest first (rotation).
  for (const std::string& secret : creds.secrets_newest_first) {
    const std::string password = core::rest_password(secret, name);
    ok.key = core::long_term_key(algorithm, name, creds.realm, password);
    if (verify(m, ok.key, sha256)) return ok;
  }
  return refuse(AuthStatus::Unauthorized, RefusalReason::BadIntegrity,
                "MESSAGE-INTEGRITY matches no static-auth-secret (the client's secret differs)",
                name);
}

}  // namespace turnpike::relay
