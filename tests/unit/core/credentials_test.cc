// TURN REST credentials, long-term keys and stateless nonces.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "core/long_term_key.h"
#include "core/rest_credentials.h"
#include "core/stateless_nonce.h"

namespace turnpike::core {
namespace {

TEST(RestCredentials, ProsodyVector) {
  // From the research notes: Prosody 0.12 with secret "test-shared-secret" gave this pair, and
  // Python's hmac and `openssl dgst -sha1 -hmac` agree.
  EXPECT_EQ(rest_password("test-shared-secret", "1795382812"), "EwQhqG4cHvjKVKJUbkmP1qVGK6w=");
}

TEST(RestCredentials, MintUsesExpiryFirst) {
  const RestCredential c = mint_rest_credential("s", "alice", 1000, 86400);
  EXPECT_EQ(c.username, "87400:alice");
  EXPECT_EQ(c.expires, 87400);
  EXPECT_EQ(c.password, rest_password("s", "87400:alice"));
  EXPECT_EQ(mint_rest_credential("s", "", 1000, 5).username, "1005");
  EXPECT_EQ(mint_rest_credential("s", "bob", 1000, 5, '-').username, "1005-bob");
}

TEST(RestCredentials, ParseAllForms) {
  auto a = parse_rest_username("1795382812");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->expiry, 1795382812);
  EXPECT_EQ(a->user, "");
  a = parse_rest_username("1795382812:alice");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->expiry, 1795382812);
  EXPECT_EQ(a->user, "alice");
  a = parse_rest_username("alice:1795382812");  // coturn's other order
  ASSERT_TRUE(a);
  EXPECT_EQ(a->expiry, 1795382812);
  EXPECT_EQ(a->user, "alice");
  a = parse_rest_username("1795382812:alice@example.org/res:x");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->user, "alice@example.org/res:x");
  EXPECT_FALSE(parse_rest_username("alice"));
  EXPECT_FALSE(parse_rest_username(""));
  EXPECT_FALSE(parse_rest_username("12a4:alice"));
  EXPECT_FALSE(parse_rest_username("alice:bob"));
  // 20 digits would overflow int64: refused rather than wrapped.
  EXPECT_FALSE(parse_rest_username("99999999999999999999:alice"));
  EXPECT_FALSE(parse_rest_username(":alice"));
}

TEST(RestCredentials, UserKeyIsTheUserPartOfEitherForm) {
  // One person, one key, whichever order the username has (review §5.8).
  EXPECT_EQ(rest_user_key("1795382812:alice@example.org"), "alice@example.org");
  EXPECT_EQ(rest_user_key("alice@example.org:1795382812"), "alice@example.org");
  EXPECT_EQ(rest_user_key("1795382812:a:b:1795382899"), "a:b:1795382899");
  EXPECT_EQ(rest_user_key("1795382812-alice", '-'), "alice");
  // No user part, or not REST: the username itself (each anonymous credential on its own).
  EXPECT_EQ(rest_user_key("1795382812"), "1795382812");
  EXPECT_EQ(rest_user_key("1795382812:"), "1795382812:");
  EXPECT_EQ(rest_user_key("static-user"), "static-user");
  EXPECT_EQ(rest_user_key("alice:bob"), "alice:bob");
}

TEST(RestCredentials, CheckBeforeAnyPassword) {
  using S = RestUsernameCheck::Status;
  const int64_t now = 1700000000;
  EXPECT_EQ(check_rest_username("alice", ':', now, 0).status, S::NotRest);
  EXPECT_EQ(check_rest_username("1700000000:alice", ':', now, 0).status, S::Ok);  // expiry == now
  auto c = check_rest_username("1699999990:alice", ':', now, 0);
  EXPECT_EQ(c.status, S::Expired);
  EXPECT_EQ(c.seconds, 10);
  c = check_rest_username("alice:1700003600", ':', now, 3599);
  EXPECT_EQ(c.status, S::TooFarAhead);
  EXPECT_EQ(c.seconds, 3600);
  EXPECT_EQ(check_rest_username("alice:1700003600", ':', now, 3600).status, S::Ok);
  EXPECT_EQ(check_rest_username("1800000000", ':', now, 0).status, S::Ok);  // 0: no cap
  EXPECT_EQ(check_rest_username("1700000001|bob", '|', now, 0).status, S::Ok);
}

TEST(LongTermKey, Md5AndSha256) {
  // RFC 8489 §9.2.2: MD5("user:realm:pass").
  const LongTermKey k = long_term_key(HashAlgorithm::Md5, "user", "realm", "pass");
  EXPECT_EQ(k.view().size(), 16u);
  const LongTermKey s = long_term_key(HashAlgorithm::Sha256, "user", "realm", "pass");
  EXPECT_EQ(s.view().size(), 32u);
  // md5("user:realm:pass") = 8493fbc53ba582fb4c044c456bdc40eb
  EXPECT_EQ(k.bytes[0], 0x84);
  EXPECT_EQ(k.bytes[15], 0xeb);
}

class NonceTest : public ::testing::Test {
 protected:
  std::array<uint8_t, 32> key{7, 7, 7};
  NonceCodec codec{key};
  SocketAddress client = *SocketAddress::parse("198.51.100.1:5000");
};

TEST_F(NonceTest, ValidForItsAddressOnly) {
  const std::string n = codec.issue(client, 1000);
  EXPECT_EQ(n.substr(0, 9), "obMatJos2");
  EXPECT_LT(n.size(), 128u);  // RFC 8489 §14.10: fewer than 128 characters
  EXPECT_TRUE(nonce_has_password_algorithms(n));
  EXPECT_EQ(codec.check(n, client, 1000, 600), NonceCodec::Check::Valid);
  EXPECT_EQ(codec.check(n, client, 1600, 600), NonceCodec::Check::Valid);
  EXPECT_EQ(codec.check(n, client, 1601, 600), NonceCodec::Check::Stale);
  EXPECT_EQ(codec.check(n, *SocketAddress::parse("198.51.100.1:5001"), 1000, 600),
            NonceCodec::Check::Invalid);
  EXPECT_EQ(codec.check(n, *SocketAddress::parse("198.51.100.2:5000"), 1000, 600),
            NonceCodec::Check::Invalid);
  // Another server's key.
  std::array<uint8_t, 32> other{8};
  EXPECT_EQ(NonceCodec(other).check(n, client, 1000, 600), NonceCodec::Check::Invalid);
  // 0 = never stale.
  EXPECT_EQ(codec.check(n, client, 10'000'000, 0), NonceCodec::Check::Valid);
  // Issued in the future beyond the slack.
  EXPECT_EQ(codec.check(n, client, 900, 600), NonceCodec::Check::Stale);
}

TEST_F(NonceTest, TamperingIsInvalid) {
  const std::string n = codec.issue(client, 1000);
  for (size_t i = 13; i < n.size(); ++i) {
    std::string t = n;
    t[i] = t[i] == 'A' ? 'B' : 'A';
    EXPECT_EQ(codec.check(t, client, 1000, 600), NonceCodec::Check::Invalid) << i;
  }
  // RFC 8489 §9.2: the security feature bits are authenticated too. Clearing "password
  // algorithms" (a bid-down to MD5 without PASSWORD-ALGORITHMS) or setting "username anonymity"
  // gives a nonce that is not ours.
  for (const char* features : {"AAAA", "gAAA", "AAAB", "gAAD", "wAAB", "gABB"}) {
    std::string t = n;
    t.replace(9, 4, features);
    EXPECT_EQ(codec.check(t, client, 1000, 600), NonceCodec::Check::Invalid) << features;
  }
  for (size_t i = 9; i < 13; ++i) {
    std::string t = n;
    t[i] = t[i] == 'A' ? 'B' : 'A';
    EXPECT_EQ(codec.check(t, client, 1000, 600), NonceCodec::Check::Invalid) << i;
  }
  EXPECT_EQ(n.size(), 29u);  // cookie, features, 12 bytes of time and MAC
  EXPECT_EQ(codec.check("f//499k954d6OL34oL9FSTvy64sA", client, 1000, 600),
            NonceCodec::Check::Invalid);
  EXPECT_EQ(codec.check("", client, 1000, 600), NonceCodec::Check::Invalid);
}

}  // namespace
}  // namespace turnpike::core
