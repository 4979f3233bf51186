// RFC 5769 (test vectors for STUN) and RFC 8489 Appendix B.1 with errata 6268.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "../test_util.h"
#include "core/attributes/xor_address.h"
#include "core/long_term_key.h"
#include "core/message_integrity.h"
#include "core/stun_message.h"

namespace turnpike::core {
namespace {

using test::hex;

// RFC 5769 §2.1: Binding request, short-term credential "VOkJxbRl1RmTxUk/WvJxBt". The
// USERNAME "evtj:h6vY" is padded with three spaces (padding content must be ignored).
const auto kRequest =
    hex("00010058 2112a442 b7e7a701 bc34d686 fa87dfae"
        "80220010 5354554e 20746573 7420636c 69656e74"
        "00240004 6e0001ff"
        "80290008 932ff9b1 51263b36"
        "00060009 6576746a 3a683676 59202020"  // "evtj:h6vY" + 3 padding bytes (spaces)
        "000800 14 9aeaa70c bfd8cb56 781ef2b5 b2d3f249 c1b571a2"
        "80280004 e57a3bcf");
// §2.2: Binding success, XOR-MAPPED-ADDRESS 192.0.2.1:32853.
const auto kIpv4Response =
    hex("0101003c 2112a442 b7e7a701 bc34d686 fa87dfae"
        "8022000b 74657374 20766563 746f7220"
        "00200008 0001a147 e112a643"
        "00080014 2b91f599 fd9e90c3 8c7489f9 2af9ba53 f06be7d7"
        "80280004 c07d4c96");
// §2.3: XOR-MAPPED-ADDRESS [2001:db8:1234:5678:11:2233:4455:6677]:32853.
const auto kIpv6Response =
    hex("01010048 2112a442 b7e7a701 bc34d686 fa87dfae"
        "8022000b 74657374 20766563 746f7220"
        "00200014 0002a147 0113a9fa a5d3f179 bc25f4b5 bed2b9d9"
        "00080014 a382954e 4be67bf1 1784c97c 8292c275 bfe3ed41"
        "80280004 c8fb0b4c");
// §2.4: long-term credentials; USERNAME "マトリックス", NONCE, REALM "example.org", password
// "TheMatrIX" after SASLprep.
const auto kLongTermRequest =
    hex("00010060 2112a442 78ad3433 c6ad72c0 29da412e"
        "00060012 e3839ee3 8388e383 aae38383 e382afe3 82b90000"
        "0015001c 662f2f34 39396b39 35346436 4f4c3334 6f4c3946 53547679 36347341"
        "0014000b 6578616d 706c652e 6f726700"
        "00080014 f6702465 6dd64a3e 02b8e071 2e85c9a2 8ca89666");
// RFC 8489 B.1 as corrected by errata 6268: USERHASH and MESSAGE-INTEGRITY-SHA256 with the
// MD5-derived long-term key (no PASSWORD-ALGORITHM, so MD5).
const auto kSha256Request =
    hex("00010088 2112a442 78ad3433 c6ad72c0 29da412e"
        "001e0020 4a3cf38f ef6992bd a952c678 0417da0f 24819415 569e60b2 05c46e41 407f1704"
        "00150029 6f624d61 744a6f73 32414141 43662f2f 3439396b 39353464 364f4c33 346f4c39"
        "46535476 79363473 41000000"
        "0014000b 6578616d 706c652e 6f726700"
        "001c0020 fd8c2738 60d2e18e bca4c89b 6973befa 7ee8ecc6 9e9642db 326fab65 a0b955ba");

const std::string kShortTermPassword = "VOkJxbRl1RmTxUk/WvJxBt";
const std::string kUser =
    "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9";

Bytes key_of(const std::string& s) {
  return Bytes(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

TEST(Rfc5769, SampleRequestParsesAndVerifies) {
  ParseStatus st;
  auto m = StunMessage::parse(Bytes(kRequest.data(), kRequest.size()), &st);
  ASSERT_TRUE(m) << int(st);
  EXPECT_EQ(m->method(), Method::Binding);
  EXPECT_EQ(m->message_class(), MessageClass::Request);
  EXPECT_TRUE(m->has_fingerprint());
  auto user = m->find(attr::Username);
  ASSERT_TRUE(user);
  EXPECT_EQ(m->text(*user), "evtj:h6vY");
  auto sw = m->find(attr::Software);
  ASSERT_TRUE(sw);
  EXPECT_EQ(m->text(*sw), "STUN test client");
  EXPECT_TRUE(verify_message_integrity(*m, key_of(kShortTermPassword)));
  EXPECT_FALSE(verify_message_integrity(*m, key_of("VOkJxbRl1RmTxUk/WvJxBT")));
}

TEST(Rfc5769, Ipv4ResponseMappedAddress) {
  auto m = StunMessage::parse(Bytes(kIpv4Response.data(), kIpv4Response.size()));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->message_class(), MessageClass::Success);
  auto a = m->find(attr::XorMappedAddress);
  ASSERT_TRUE(a);
  auto addr = decode_xor_address(m->value(*a), m->bytes().data());
  ASSERT_TRUE(addr);
  EXPECT_EQ(addr->to_string(), "192.0.2.1:32853");
  EXPECT_TRUE(verify_message_integrity(*m, key_of(kShortTermPassword)));
}

TEST(Rfc5769, Ipv6ResponseMappedAddress) {
  auto m = StunMessage::parse(Bytes(kIpv6Response.data(), kIpv6Response.size()));
  ASSERT_TRUE(m);
  auto a = m->find(attr::XorMappedAddress);
  ASSERT_TRUE(a);
  auto addr = decode_xor_address(m->value(*a), m->bytes().data());
  ASSERT_TRUE(addr);
  EXPECT_EQ(addr->to_string(), "[2001:db8:1234:5678:11:2233:4455:6677]:32853");
  EXPECT_TRUE(verify_message_integrity(*m, key_of(kShortTermPassword)));
}

TEST(Rfc5769, LongTermRequestVerifiesWithMd5Key) {
  auto m = StunMessage::parse(Bytes(kLongTermRequest.data(), kLongTermRequest.size()));
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->has_fingerprint());
  EXPECT_EQ(m->text(*m->find(attr::Username)), kUser);
  EXPECT_EQ(m->text(*m->find(attr::Nonce)), "f//499k954d6OL34oL9FSTvy64sA");
  EXPECT_EQ(m->text(*m->find(attr::Realm)), "example.org");
  const LongTermKey k = long_term_key(HashAlgorithm::Md5, kUser, "example.org", "TheMatrIX");
  EXPECT_TRUE(verify_message_integrity(*m, k.view()));
  const LongTermKey wrong = long_term_key(HashAlgorithm::Md5, kUser, "example.org", "TheMatrix");
  EXPECT_FALSE(verify_message_integrity(*m, wrong.view()));
}

TEST(Rfc8489, AppendixB1WithErrata6268) {
  auto m = StunMessage::parse(Bytes(kSha256Request.data(), kSha256Request.size()));
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->message_integrity());
  ASSERT_TRUE(m->message_integrity_sha256());
  // USERHASH = SHA-256(username ":" realm)
  auto uh = m->find(attr::Userhash);
  ASSERT_TRUE(uh);
  const auto expected = userhash(kUser, "example.org");
  ASSERT_EQ(m->value(*uh).size(), 32u);
  EXPECT_TRUE(std::equal(expected.begin(), expected.end(), m->value(*uh).begin()));
  EXPECT_EQ(m->text(*m->find(attr::Nonce)), "obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA");
  const LongTermKey k = long_term_key(HashAlgorithm::Md5, kUser, "example.org", "TheMatrIX");
  EXPECT_TRUE(verify_message_integrity_sha256(*m, k.view()));
  EXPECT_FALSE(verify_message_integrity(*m, k.view()));  // there is no SHA-1 MAC
}

TEST(Rfc5769, EveryByteFlipIsDetected) {
  // A flipped bit in the bytes MESSAGE-INTEGRITY covers (everything up to and including it,
  // which ends at offset 100) must break the fingerprint, the MAC or the parse.
  for (size_t i = 0; i < 100; ++i) {
    auto copy = kRequest;
    copy[i] ^= 0x01;
    auto m = StunMessage::parse(Bytes(copy.data(), copy.size()));
    if (m) {
      EXPECT_FALSE(verify_message_integrity(*m, key_of(kShortTermPassword))) << "byte " << i;
    }
  }
  // With FINGERPRINT present nearly every flip fails inside parse(), so the loop above hardly
  // reaches the MAC. Without it (the length field then ends at MESSAGE-INTEGRITY, as RFC 8489
  // §14.5 computes it), the MAC alone must catch every flip.
  std::vector<uint8_t> bare(kRequest.begin(), kRequest.begin() + 100);
  bare[3] = 0x50;  // 80 bytes of attributes: the 88 less FINGERPRINT's 8
  {
    auto m = StunMessage::parse(Bytes(bare.data(), bare.size()));
    ASSERT_TRUE(m);
    ASSERT_FALSE(m->has_fingerprint());
    ASSERT_TRUE(verify_message_integrity(*m, key_of(kShortTermPassword)));
  }
  // Transaction ID, SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME and the MAC itself: flips there
  // leave a well-formed message, so these reach verify_message_integrity and must fail there.
  const std::vector<std::pair<size_t, size_t>> values = {{8, 20},  {24, 40}, {44, 48},
                                                         {52, 60}, {64, 73}, {80, 100}};
  size_t reached_mac = 0;
  for (size_t i = 0; i < bare.size(); ++i) {
    std::vector<uint8_t> copy = bare;
    copy[i] ^= 0x01;
    auto m = StunMessage::parse(Bytes(copy.data(), copy.size()));
    const bool in_value = std::any_of(values.begin(), values.end(),
                                      [i](const auto& r) { return i >= r.first && i < r.second; });
    if (in_value) {
      ASSERT_TRUE(m) << "byte " << i;
    }
    if (!m) continue;
    ++reached_mac;
    EXPECT_FALSE(verify_message_integrity(*m, key_of(kShortTermPassword))) << "byte " << i;
  }
  EXPECT_GE(reached_mac, 73u);  // at least the 73 value bytes above
  // Bytes after MESSAGE-INTEGRITY are not authenticated: turning FINGERPRINT into an unknown
  // comprehension-optional attribute leaves a valid message whose trailer is ignored.
  auto copy = kRequest;
  copy[100] ^= 0x01;  // 0x8028 -> 0x8128
  auto m = StunMessage::parse(Bytes(copy.data(), copy.size()));
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->has_fingerprint());
  EXPECT_TRUE(verify_message_integrity(*m, key_of(kShortTermPassword)));
}

}  // namespace
}  // namespace turnpike::core
