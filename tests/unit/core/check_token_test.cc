// The check link's token: MAC, expiry, rotation, tampering.
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/base64.h"
#include "core/check_token.h"

namespace turnpike::core {
namespace {

CheckToken sample() {
  CheckToken t;
  for (size_t i = 0; i < t.id.size(); ++i) t.id[i] = uint8_t(0xA0 + i);
  t.expires = 2'000'000'000;
  t.note = "Bob, office wifi";
  return t;
}

TEST(CheckToken, RoundTrip) {
  const std::string text = make_check_token("s3cret", sample());
  // URL-safe: it travels in a link's fragment.
  EXPECT_EQ(text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            std::string::npos);
  const auto r = verify_check_token(text, {"s3cret"}, 1'999'999'000);
  ASSERT_EQ(r.status, CheckTokenStatus::Ok);
  EXPECT_EQ(r.token.id, sample().id);
  EXPECT_EQ(r.token.id_hex(), "a0a1a2a3a4a5a6a7a8");
  EXPECT_EQ(r.token.expires, 2'000'000'000u);
  EXPECT_EQ(r.token.note, "Bob, office wifi");
}

TEST(CheckToken, ExpiredOnlyOnceItsMacMatched) {
  const std::string text = make_check_token("s3cret", sample());
  EXPECT_EQ(verify_check_token(text, {"s3cret"}, 2'000'000'000).status, CheckTokenStatus::Ok);
  const auto r = verify_check_token(text, {"s3cret"}, 2'000'000'001);
  EXPECT_EQ(r.status, CheckTokenStatus::Expired);
  EXPECT_EQ(r.token.note, "Bob, office wifi");
  EXPECT_EQ(verify_check_token(text, {"other"}, 2'000'000'001).status, CheckTokenStatus::BadMac);
}

TEST(CheckToken, EverySecretVerifies) {
  const std::string text = make_check_token("old", sample());
  EXPECT_EQ(verify_check_token(text, {"new", "old"}, 0).status, CheckTokenStatus::Ok);
  EXPECT_EQ(verify_check_token(text, {"new"}, 0).status, CheckTokenStatus::BadMac);
  EXPECT_EQ(verify_check_token(text, {}, 0).status, CheckTokenStatus::BadMac);
}

TEST(CheckToken, TamperingIsRefused) {
  const std::string text = make_check_token("s3cret", sample());
  auto raw = *base64url_decode(text);
  for (size_t i = 0; i < raw.size(); ++i) {
    std::string bad = raw;
    bad[i] = char(bad[i] ^ 0x01);
    const auto s = verify_check_token(
        base64url_encode(Bytes(reinterpret_cast<const uint8_t*>(bad.data()), bad.size())), {"s3cret"}, 0);
    EXPECT_NE(s.status, CheckTokenStatus::Ok) << "byte " << i;
  }
  // A longer expiry or another note does not keep the MAC.
  EXPECT_EQ(verify_check_token(text.substr(0, text.size() - 2), {"s3cret"}, 0).status,
            CheckTokenStatus::BadMac);
  EXPECT_EQ(verify_check_token("", {"s3cret"}, 0).status, CheckTokenStatus::Malformed);
  EXPECT_EQ(verify_check_token("not base64url!", {"s3cret"}, 0).status, CheckTokenStatus::Malformed);
  EXPECT_EQ(verify_check_token(std::string(4000, 'A'), {"s3cret"}, 0).status, CheckTokenStatus::Malformed);
}

TEST(CheckToken, LongNotesAreCut) {
  CheckToken t = sample();
  t.note = std::string(500, 'x');
  const auto r = verify_check_token(make_check_token("s", t), {"s"}, 0);
  ASSERT_EQ(r.status, CheckTokenStatus::Ok);
  EXPECT_EQ(r.token.note.size(), kMaxCheckNoteBytes);

  // 199 bytes, then a two-byte character across the limit: cut before it, not in it.
  t.note = std::string(kMaxCheckNoteBytes - 1, 'x') + "\xc3\xa9tage";
  const auto cut = verify_check_token(make_check_token("s", t), {"s"}, 0);
  ASSERT_EQ(cut.status, CheckTokenStatus::Ok);
  EXPECT_EQ(cut.token.note, std::string(kMaxCheckNoteBytes - 1, 'x'));
}

}  // namespace
}  // namespace turnpike::core
