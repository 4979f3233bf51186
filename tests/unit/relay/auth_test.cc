// Long-term authentication on the server (RFC 8489 §9.2.4) with TURN REST credentials and
// static users, over stateless nonces.
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/attributes/password_algorithms.h"
#include "core/attributes/text.h"
#include "core/message_integrity.h"
#include "relay_fixture.h"

namespace turnpike::relay::test {
namespace {

TEST_F(RelayTest, FirstRequestIsChallengedWithRealmNonceAndAlgorithms) {
  auto r = one(build(
      Method::Allocate, MessageClass::Request,
      [](core::StunWriter& w) { w.add(attr::RequestedTransport, core::Bytes(kUdp, 4)); }, false));
  EXPECT_EQ(r.error(), 401);
  EXPECT_EQ(r.reason(), "");  // nothing more than needed before authentication
  EXPECT_EQ(r.text(attr::Realm), kRealm);
  EXPECT_EQ(r.text(attr::Nonce).substr(0, 9), "obMatJos2");
  auto algs = r.msg->find(attr::PasswordAlgorithms);
  ASSERT_TRUE(algs);
  EXPECT_EQ(r.msg->value(*algs).size(), 8u);
  EXPECT_FALSE(r.msg->message_integrity());
  EXPECT_TRUE(events.refused_list.empty());  // a challenge is not a refusal
  EXPECT_EQ(server->allocation_count(), 0u);
}

TEST_F(RelayTest, RestCredentialAllocatesAndTheAnswerIsSigned) {
  auto r = allocate();
  ASSERT_TRUE(r.ok()) << r.error() << " " << r.reason();
  const core::LongTermKey k =
      core::long_term_key(core::HashAlgorithm::Md5, username, kRealm, password);
  EXPECT_TRUE(core::verify_message_integrity(*r.msg, k.view()));
  EXPECT_EQ(events.started.size(), 1u);
  EXPECT_EQ(allocation()->username, username);
}

TEST_F(RelayTest, WrongSecretIsRefusedAsBadIntegrity) {
  use_rest_user("alice", 3600, "not-the-secret");
  auto r = allocate();
  EXPECT_EQ(r.error(), 401);
  ASSERT_EQ(events.refused_list.size(), 1u);
  EXPECT_EQ(events.refused_list[0].reason, RefusalReason::BadIntegrity);
  EXPECT_EQ(events.refused_list[0].username, username);
  EXPECT_FALSE(r.msg->message_integrity());
  EXPECT_FALSE(r.text(attr::Nonce).empty());  // the client may retry with other credentials
}

TEST_F(RelayTest, ExpiredCredentialIsRefused) {
  use_rest_user("alice", 100);
  get_nonce();
  advance(101);
  get_nonce();
  auto r = allocate();
  EXPECT_EQ(r.error(), 401);
  ASSERT_EQ(events.refused_list.size(), 1u);
  EXPECT_EQ(events.refused_list[0].reason, RefusalReason::ExpiredCredential);
}

TEST_F(RelayTest, CredentialExpiringExactlyNowStillWorks) {
  use_rest_user("alice", 0);  // coturn accepts while expiry >= now
  EXPECT_TRUE(allocate().ok());
}

TEST_F(RelayTest, CredentialTooFarAheadIsRefused) {
  creds->max_ttl = 86400;
  use_rest_user("alice", 86401);
  EXPECT_EQ(allocate().error(), 401);
  EXPECT_EQ(events.refused_list.back().reason, RefusalReason::CredentialTooLong);
  use_rest_user("alice", 86400);
  EXPECT_TRUE(allocate().ok());
}

TEST_F(RelayTest, NonRestUsernameIsUnknownUser) {
  username = "mallory";
  password = "whatever";
  EXPECT_EQ(allocate().error(), 401);
  EXPECT_EQ(events.refused_list.back().reason, RefusalReason::UnknownUser);
  username = "99999999999999999999:alice";  // would overflow
  EXPECT_EQ(allocate().error(), 401);
  EXPECT_EQ(events.refused_list.back().reason, RefusalReason::UnknownUser);
}

TEST_F(RelayTest, UserColonExpiryOrderIsAccepted) {
  username = "alice:" + std::to_string(now.unix_s() + 600);
  password = core::rest_password(kSecret, username);
  EXPECT_TRUE(allocate().ok());
}

TEST_F(RelayTest, StaleNonceGets438WithAFreshOne) {
  retry_stale_nonce = false;
  get_nonce();
  advance(601);
  auto r = allocate();
  EXPECT_EQ(r.error(), 438);
  EXPECT_FALSE(r.text(attr::Nonce).empty());
  EXPECT_NE(r.text(attr::Nonce), nonce);
  EXPECT_EQ(events.refused_list.back().reason, RefusalReason::StaleNonce);
  nonce = r.text(attr::Nonce);
  EXPECT_TRUE(allocate().ok());
}

TEST_F(RelayTest, NonceFromAnotherAddressIs438) {
  retry_stale_nonce = false;
  get_nonce();
  client = *SocketAddress::parse("198.51.100.10:40001");
  EXPECT_EQ(allocate().error(), 438);
  EXPECT_EQ(events.refused_list.back().reason, RefusalReason::BadNonce);
}

// RFC 8489 §9.2: a client (or a man in the middle) that clears the nonce's "password
// algorithms" bit to bid the exchange down gets a stale-nonce answer with a fresh, intact nonce.
TEST_F(RelayTest, NonceWithChangedFeatureBitsIs438) {
  retry_stale_nonce = false;
  get_nonce();
  ASSERT_TRUE(core::nonce_has_password_algorithms(nonce));
  nonce.replace(9, 4, "AAAA");
  ASSERT_FALSE(core::nonce_has_password_algorithms(nonce));
  auto r = allocate();
  EXPECT_EQ(r.error(), 438);
  EXPECT_EQ(events.refused_list.back().reason, RefusalReason::BadNonce);
  nonce = r.text(attr::Nonce);
  EXPECT_TRUE(core::nonce_has_password_algorithms(nonce));
  EXPECT_TRUE(allocate().ok());
}

TEST_F(RelayTest, IntegrityWithoutUsernameRealmOrNonceIs400) {
  get_nonce();
  std::vector<uint8_t> buf(256);
  const uint8_t id[12] = {9};
  core::StunWriter w(core::MutableBytes(buf.data(), buf.size()), Method::Allocate,
                     MessageClass::Request, id);
  w.add(attr::RequestedTransport, core::Bytes(kUdp, 4));
  w.add_text(attr::Username, username);
  w.add_text(attr::Nonce, nonce);  // no REALM
  w.add_message_integrity(
      core::long_term_key(core::HashAlgorithm::Md5, username, kRealm, password).view());
  buf.resize(w.size());
  EXPECT_EQ(one(buf).error(), 400);
}

TEST_F(RelayTest, OversizedUsernameIs400) {
  username = std::string(600, 'a');
  EXPECT_EQ(allocate().error(), 400);
}

// RFC 8489 §14.3, §14.9, §14.10, §14.14: USERNAME, REALM, NONCE and SOFTWARE are UTF-8 text; one
// with a control character, a terminal escape, a bidirectional override or bytes that are not
// UTF-8 is 400, and the refusal recorded names the attribute but carries none of its bytes.
TEST_F(RelayTest, TextAttributesThatAreNotTextAre400AndNotRecorded) {
  const std::string hostile[] = {"1700000000:al\x1b[2Jice", "al\nice", "a\xff\xfe",
                                 "evil\xe2\x80\xae" "gpj", std::string("nul\0", 4)};
  for (const std::string& bad : hostile) {
    for (uint16_t type : {attr::Username, attr::Realm, attr::Nonce, attr::Software}) {
      events.refused_list.clear();
      auto r = one(build(
          Method::Allocate, MessageClass::Request,
          [&](core::StunWriter& w) {
            w.add(attr::RequestedTransport, core::Bytes(kUdp, 4));
            w.add_text(type, bad);
          },
          false));
      EXPECT_EQ(r.error(), 400) << type;
      EXPECT_FALSE(r.has(attr::Realm));  // not a challenge
      ASSERT_EQ(events.refused_list.size(), 1u);
      const auto& ref = events.refused_list[0];
      EXPECT_EQ(ref.reason, RefusalReason::InvalidText);
      EXPECT_EQ(ref.code, 400);
      EXPECT_EQ(ref.username, "");
      EXPECT_EQ(ref.detail.find(bad), std::string::npos);
      EXPECT_EQ(ref.detail.rfind(core::text_attribute_name(type), 0), 0u) << ref.detail;
    }
  }
  // Binding too (SOFTWARE is all it carries), and signed requests with a bad USERNAME.
  auto b = one(build(
      Method::Binding, MessageClass::Request,
      [&](core::StunWriter& w) { w.add_text(attr::Software, "x\x1b]0;t\x07"); }, false));
  EXPECT_EQ(b.error(), 400);
  username = "1700000000:\x1b[31mroot";
  EXPECT_EQ(allocate().error(), 400);
  EXPECT_EQ(server->allocation_count(), 0u);
}

TEST_F(RelayTest, TextAttributesAtTheirLimitsAreAccepted) {
  // 127 characters of three bytes each, in SOFTWARE: fewer than 128 characters, 381 bytes.
  std::string software;
  for (int i = 0; i < 127; ++i) software += "\xe3\x83\x9e";
  use_rest_user("\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9");
  auto r = allocate([&](core::StunWriter& w) { w.add_text(attr::Software, software); });
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(allocation()->username, username);
  software += "\xe3\x83\x9e";
  auto b = one(build(
      Method::Binding, MessageClass::Request,
      [&](core::StunWriter& w) { w.add_text(attr::Software, software); }, false));
  EXPECT_EQ(b.error(), 400);
}

TEST_F(RelayTest, WrongRealmIsExplained) {
  get_nonce();
  std::vector<uint8_t> buf(512);
  const uint8_t id[12] = {8};
  core::StunWriter w(core::MutableBytes(buf.data(), buf.size()), Method::Allocate,
                     MessageClass::Request, id);
  w.add(attr::RequestedTransport, core::Bytes(kUdp, 4));
  w.add_text(attr::Username, username);
  w.add_text(attr::Realm, "other.realm");
  w.add_text(attr::Nonce, nonce);
  w.add_message_integrity(
      core::long_term_key(core::HashAlgorithm::Md5, username, "other.realm", password).view());
  buf.resize(w.size());
  EXPECT_EQ(one(buf).error(), 401);
  EXPECT_NE(events.refused_list.back().detail.find("other.realm"), std::string::npos);
}

TEST_F(RelayTest, EverySecretVerifiesSoSecretsRotate) {
  creds->secrets_newest_first = {"new-secret", kSecret};
  use_rest_user("old", 3600, kSecret);
  EXPECT_TRUE(allocate().ok());
  client = *SocketAddress::parse("198.51.100.10:40002");
  nonce.clear();
  use_rest_user("new", 3600, "new-secret");
  EXPECT_TRUE(allocate().ok());
  client = *SocketAddress::parse("198.51.100.10:40003");
  nonce.clear();
  use_rest_user("gone", 3600, "retired-secret");
  EXPECT_EQ(allocate().error(), 401);
}

TEST_F(RelayTest, ReloadedCredentialsApplyToNewRequests) {
  auto fresh = std::make_shared<Credentials>(*creds);
  fresh->secrets_newest_first = {"rotated"};
  server->set_credentials(fresh);
  EXPECT_EQ(allocate().error(), 401);
  nonce.clear();
  use_rest_user("alice", 3600, "rotated");
  EXPECT_TRUE(allocate().ok());
}

TEST_F(RelayTest, StaticUserWithPasswordOrKey) {
  creds->rest_enabled = false;
  creds->add_user("bob", StaticUserEntry{"bobpass", std::nullopt});
  auto key = core::long_term_key(core::HashAlgorithm::Md5, "carol", kRealm, "carolpass");
  std::array<uint8_t, 16> k16;
  std::memcpy(k16.data(), key.bytes.data(), 16);
  creds->add_user("carol", StaticUserEntry{"", k16});
  username = "bob";
  password = "bobpass";
  EXPECT_TRUE(allocate().ok());
  client = *SocketAddress::parse("198.51.100.10:40010");
  nonce.clear();
  username = "carol";
  password = "carolpass";
  EXPECT_TRUE(allocate().ok());
  client = *SocketAddress::parse("198.51.100.10:40011");
  nonce.clear();
  username = "bob";
  password = "wrong";
  EXPECT_EQ(allocate().error(), 401);
  EXPECT_EQ(events.refused_list.back().reason, RefusalReason::BadIntegrity);
  // With REST off, a REST-looking name is simply unknown.
  use_rest_user("alice");
  EXPECT_EQ(allocate().error(), 401);
  EXPECT_EQ(events.refused_list.back().reason, RefusalReason::UnknownUser);
}

TEST_F(RelayTest, UserhashFindsStaticUsers) {
  creds->add_user("dave", StaticUserEntry{"davepass", std::nullopt});
  get_nonce();
  std::vector<uint8_t> buf(512);
  const uint8_t id[12] = {7};
  core::StunWriter w(core::MutableBytes(buf.data(), buf.size()), Method::Allocate,
                     MessageClass::Request, id);
  w.add(attr::RequestedTransport, core::Bytes(kUdp, 4));
  const auto h = core::userhash("dave", kRealm);
  w.add(attr::Userhash, core::Bytes(h.data(), h.size()));
  w.add_text(attr::Realm, kRealm);
  w.add_text(attr::Nonce, nonce);
  w.add_message_integrity_sha256(
      core::long_term_key(core::HashAlgorithm::Md5, "dave", kRealm, "davepass").view());
  buf.resize(w.size());
  auto r = one(buf);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_TRUE(r.msg->message_integrity_sha256());  // answered in kind
  EXPECT_EQ(allocation()->username, "dave");
}

TEST_F(RelayTest, Sha256IntegrityIsAnsweredWithSha256) {
  use_sha256_mi = true;
  auto r = allocate();
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.msg->message_integrity());
  const core::LongTermKey k =
      core::long_term_key(core::HashAlgorithm::Md5, username, kRealm, password);
  EXPECT_TRUE(core::verify_message_integrity_sha256(*r.msg, k.view()));
}

TEST_F(RelayTest, PasswordAlgorithmSha256) {
  algorithm = core::HashAlgorithm::Sha256;
  auto r = allocate([](core::StunWriter& w) {
    const uint8_t alg[4] = {0x00, 0x02, 0x00, 0x00};
    w.add(attr::PasswordAlgorithm, core::Bytes(alg, 4));
    w.add(attr::PasswordAlgorithms, core::Bytes(core::kPasswordAlgorithmsValue, 8));
  });
  ASSERT_TRUE(r.ok()) << r.error();
  const core::LongTermKey k =
      core::long_term_key(core::HashAlgorithm::Sha256, username, kRealm, password);
  EXPECT_TRUE(core::verify_message_integrity(*r.msg, k.view()));
}

TEST_F(RelayTest, PasswordAlgorithmsBidDownIs400) {
  // RFC 8489 §9.2.4: PASSWORD-ALGORITHMS must come back exactly as the server sent it.
  auto r = allocate([](core::StunWriter& w) {
    const uint8_t alg[4] = {0x00, 0x01, 0x00, 0x00};
    const uint8_t only_md5[4] = {0x00, 0x01, 0x00, 0x00};
    w.add(attr::PasswordAlgorithm, core::Bytes(alg, 4));
    w.add(attr::PasswordAlgorithms, core::Bytes(only_md5, 4));
  });
  EXPECT_EQ(r.error(), 400);
  // Only one of the pair.
  r = allocate([](core::StunWriter& w) {
    const uint8_t alg[4] = {0x00, 0x01, 0x00, 0x00};
    w.add(attr::PasswordAlgorithm, core::Bytes(alg, 4));
  });
  EXPECT_EQ(r.error(), 400);
  // An algorithm that was not offered.
  r = allocate([](core::StunWriter& w) {
    const uint8_t alg[4] = {0x00, 0x09, 0x00, 0x00};
    w.add(attr::PasswordAlgorithm, core::Bytes(alg, 4));
    w.add(attr::PasswordAlgorithms, core::Bytes(core::kPasswordAlgorithmsValue, 8));
  });
  EXPECT_EQ(r.error(), 400);
}

TEST_F(RelayTest, NoAuthModeNeedsNoCredentials) {
  creds->no_auth = true;
  auto r = one(build(
      Method::Allocate, MessageClass::Request,
      [](core::StunWriter& w) { w.add(attr::RequestedTransport, core::Bytes(kUdp, 4)); }, false));
  EXPECT_TRUE(r.ok());
  EXPECT_FALSE(r.msg->message_integrity());
}

TEST_F(RelayTest, AnotherUsersRequestOnAnAllocationIs441) {
  ASSERT_TRUE(allocate().ok());
  use_rest_user("bob");
  auto r = refresh(600);
  EXPECT_EQ(r.error(), 441);
  EXPECT_EQ(events.refused_list.back().reason, RefusalReason::WrongCredentials);
  EXPECT_TRUE(r.msg->message_integrity());  // bob authenticated: the answer is signed
}

TEST_F(RelayTest, BindingNeedsNoAuthAndStaysSmall) {
  std::vector<uint8_t> buf(64);
  const uint8_t id[12] = {1};
  core::StunWriter w(core::MutableBytes(buf.data(), buf.size()), Method::Binding,
                     MessageClass::Request, id);
  buf.resize(w.size());
  auto r = one(buf);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.address(attr::XorMappedAddress), client);
  EXPECT_EQ(r.bytes.size(), 32u);  // 20-byte request -> 32-byte answer
  EXPECT_FALSE(r.has(attr::Software));
  EXPECT_FALSE(r.has(attr::MappedAddress));
}

TEST_F(RelayTest, BindingWithFingerprintIsAnsweredWithFingerprint) {
  std::vector<uint8_t> buf(64);
  const uint8_t id[12] = {2};
  core::StunWriter w(core::MutableBytes(buf.data(), buf.size()), Method::Binding,
                     MessageClass::Request, id);
  w.add_fingerprint();
  buf.resize(w.size());
  auto r = one(buf);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.msg->has_fingerprint());
}

TEST_F(RelayTest, SecureStunChallengesBinding) {
  settings.secure_stun = true;
  start(0, 0);
  auto r = one(build(Method::Binding, MessageClass::Request, nullptr, false));
  EXPECT_EQ(r.error(), 401);
  get_nonce();
  auto ok = one(build(Method::Binding, MessageClass::Request, nullptr, true));
  EXPECT_TRUE(ok.ok());
}

TEST_F(RelayTest, UnknownComprehensionRequiredAttributeIs420) {
  auto r = one(build(
      Method::Allocate, MessageClass::Request,
      [](core::StunWriter& w) {
        w.add(attr::RequestedTransport, core::Bytes(kUdp, 4));
        w.add_text(0x0042, "x");
        w.add_text(0x8042, "optional attributes are fine");
      },
      false));
  EXPECT_EQ(r.error(), 420);
  auto u = r.msg->find(attr::UnknownAttributes);
  ASSERT_TRUE(u);
  ASSERT_EQ(u->length, 2);
  EXPECT_EQ(core::load_be16(r.msg->value(*u).data()), 0x0042);
}

TEST_F(RelayTest, UnknownMethodIs400AndResponsesAreIgnored) {
  EXPECT_EQ(one(build(Method(0x0FF), MessageClass::Request, nullptr, false)).error(), 400);
  EXPECT_TRUE(feed(build(Method::Binding, MessageClass::Success, nullptr, false)).empty());
  EXPECT_TRUE(feed(build(Method::Binding, MessageClass::Error, nullptr, false)).empty());
  EXPECT_TRUE(feed(build(Method::Data, MessageClass::Indication, nullptr, false)).empty());
}

TEST_F(RelayTest, MalformedDatagramsAreDroppedSilently) {
  EXPECT_TRUE(feed({0x00, 0x01, 0x00}).empty());
  EXPECT_TRUE(
      feed({0x80, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
          .empty());
  EXPECT_TRUE(
      feed({0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x43, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
          .empty());
  EXPECT_TRUE(feed({}).empty());
  EXPECT_GT(server->stats().malformed, 0u);
}

TEST_F(RelayTest, UnauthenticatedAnswersAreRateLimitedPerSource) {
  settings.unauth_rate = 10;
  start(0, 0);
  int answered = 0;
  for (int i = 0; i < 100; ++i)
    answered += int(feed(build(Method::Binding, MessageClass::Request, nullptr, false)).size());
  EXPECT_EQ(answered, 20);  // a burst of 2 x rate
  advance(1);
  answered = 0;
  for (int i = 0; i < 100; ++i)
    answered += int(feed(build(Method::Binding, MessageClass::Request, nullptr, false)).size());
  EXPECT_EQ(answered, 10);
  // Another source has its own budget.
  client = *SocketAddress::parse("203.0.113.50:1234");
  EXPECT_EQ(feed(build(Method::Binding, MessageClass::Request, nullptr, false)).size(), 1u);
}

}  // namespace
}  // namespace turnpike::relay::test

namespace turnpike::relay::test {
namespace {

// Before authentication an answer is never more than Server::unauthenticated_margin() bytes
// larger than its request, for every method, and a bare request on a method that needs an
// allocation gets the short 437 (RFC 8656 §7.3, §9.2, §12.2; RFC 6062 §5.2), not a challenge.
TEST_F(RelayTest, AnswersBeforeAuthenticationStayWithinTheMargin) {
  // 60 bytes and the realm ("test.realm": 12 padded): what a 401 to a bare header needs.
  EXPECT_EQ(server->unauthenticated_margin(), 72u);
  transport = Transport::Tcp;  // so that Connect and ConnectionBind are methods that apply
  const Method methods[] = {Method::Binding,          Method::Allocate,    Method::Refresh,
                            Method::CreatePermission, Method::ChannelBind, Method::Connect,
                            Method::ConnectionBind,   Method(0x0FF)};
  for (const Method m : methods) {
    for (bool secure : {false, true}) {
      settings.secure_stun = secure;
      start(0, 0);
      const std::vector<uint8_t> bare = build(m, MessageClass::Request, nullptr, false);
      auto r = one(bare);
      ASSERT_TRUE(r.msg) << int(m);
      EXPECT_LE(r.bytes.size(), bare.size() + server->unauthenticated_margin()) << int(m);
      if (m == Method::Refresh || m == Method::CreatePermission || m == Method::ChannelBind ||
          m == Method::Connect) {
        EXPECT_EQ(r.error(), 437) << int(m);
        EXPECT_EQ(r.bytes.size(), 28u);  // header and ERROR-CODE without a reason phrase
        EXPECT_FALSE(r.has(attr::Realm));
        EXPECT_FALSE(r.has(attr::Nonce));
      }
    }
  }
  EXPECT_EQ(server->stats().oversized_unauthenticated, 0u);
}

// The same for a realm as long as RFC 8489 §14.9 allows: the margin grows with it, and the
// challenge still fits.
TEST_F(RelayTest, TheMarginFollowsTheRealm) {
  creds->realm = std::string(127, 'r');
  start(0, 0);
  EXPECT_EQ(server->unauthenticated_margin(), 60u + 128u);
  const std::vector<uint8_t> bare = build(Method::Allocate, MessageClass::Request, nullptr, false);
  auto r = one(bare);
  EXPECT_EQ(r.error(), 401);
  EXPECT_EQ(r.bytes.size(), bare.size() + server->unauthenticated_margin());
  EXPECT_EQ(r.text(attr::Realm), creds->realm);
}

}  // namespace
}  // namespace turnpike::relay::test
