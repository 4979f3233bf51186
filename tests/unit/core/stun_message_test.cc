// The STUN parser's header checks and attribute walk (RFC 8489 §5, §6.3, §14), and the writer.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../test_util.h"
#include "core/attributes/error_code.h"
#include "core/attributes/xor_address.h"
#include "core/fingerprint.h"
#include "core/message_integrity.h"
#include "core/stun_message.h"
#include "core/stun_writer.h"

namespace turnpike::core {
namespace {

const uint8_t kTxid[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

std::vector<uint8_t> build(std::initializer_list<std::pair<uint16_t, std::vector<uint8_t>>> attrs,
                           uint16_t type = 0x0003) {
  std::vector<uint8_t> buf(1024);
  StunWriter w(MutableBytes(buf.data(), buf.size()), type, kTxid);
  for (const auto& [t, v] : attrs) w.add(t, Bytes(v.data(), v.size()));
  EXPECT_TRUE(w.ok());
  buf.resize(w.size());
  return buf;
}

std::optional<StunMessage> parse(const std::vector<uint8_t>& b, ParseStatus* st = nullptr) {
  return StunMessage::parse(Bytes(b.data(), b.size()), st);
}

TEST(MessageType, InterleavesClassBits) {
  // RFC 8489 §5: Binding request 0x0001, success 0x0101, error 0x0111; Allocate 0x0003 / 0x0103.
  EXPECT_EQ(message_type(Method::Binding, MessageClass::Request), 0x0001);
  EXPECT_EQ(message_type(Method::Binding, MessageClass::Success), 0x0101);
  EXPECT_EQ(message_type(Method::Binding, MessageClass::Error), 0x0111);
  EXPECT_EQ(message_type(Method::Send, MessageClass::Indication), 0x0016);
  EXPECT_EQ(message_type(Method::Data, MessageClass::Indication), 0x0017);
  EXPECT_EQ(message_type(Method::ChannelBind, MessageClass::Success), 0x0109);
  for (uint16_t m = 0; m < 0x1000; m += 7) {
    for (uint8_t c = 0; c < 4; ++c) {
      const uint16_t t = message_type(Method(m), MessageClass(c));
      EXPECT_EQ(uint16_t(method_of(t)), m);
      EXPECT_EQ(uint8_t(class_of(t)), c);
    }
  }
}

TEST(Parse, HeaderChecks) {
  auto ok = build({{attr::Lifetime, {0, 0, 2, 0x58}}});
  ASSERT_TRUE(parse(ok));
  ParseStatus st;
  // Shorter than a header.
  EXPECT_FALSE(StunMessage::parse(Bytes(ok.data(), 19), &st));
  EXPECT_EQ(st, ParseStatus::TooShort);
  // First two bits not zero.
  auto bad = ok;
  bad[0] |= 0x80;
  EXPECT_FALSE(parse(bad, &st));
  EXPECT_EQ(st, ParseStatus::NotStun);
  // Wrong magic cookie (RFC 3489 messages have none).
  bad = ok;
  bad[4] ^= 1;
  EXPECT_FALSE(parse(bad, &st));
  EXPECT_EQ(st, ParseStatus::NotStun);
  // Length not a multiple of four.
  bad = ok;
  bad[3] += 1;
  bad.push_back(0);
  EXPECT_FALSE(parse(bad, &st));
  EXPECT_EQ(st, ParseStatus::BadLength);
  // Header length beyond the datagram.
  bad = ok;
  bad[3] += 4;
  EXPECT_FALSE(parse(bad, &st));
  EXPECT_EQ(st, ParseStatus::TooShort);
  // Bytes after the message are not part of it.
  bad = ok;
  bad.insert(bad.end(), {0xde, 0xad, 0xbe, 0xef});
  auto m = parse(bad);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->size(), ok.size());
}

TEST(Parse, AttributeOverrunsAreRejected) {
  auto b = build({{attr::Username, {'a', 'b', 'c', 'd'}}});
  ParseStatus st;
  // Attribute length runs past the end.
  auto bad = b;
  bad[20 + 3] = 9;
  EXPECT_FALSE(parse(bad, &st));
  EXPECT_EQ(st, ParseStatus::BadAttribute);
  // Length 0xFFFF (the padded span must not wrap).
  bad = b;
  bad[20 + 2] = 0xFF;
  bad[20 + 3] = 0xFF;
  EXPECT_FALSE(parse(bad, &st));
  EXPECT_EQ(st, ParseStatus::BadAttribute);
  // A truncated attribute header (2 bytes left).
  std::vector<uint8_t> t = {0x00, 0x01, 0x00, 0x04, 0x21, 0x12, 0xa4, 0x42};
  t.insert(t.end(), kTxid, kTxid + 12);
  t.insert(t.end(), {0x00, 0x06, 0x00, 0x00});
  EXPECT_TRUE(parse(t));  // zero-length attribute is fine
  t[3] = 4;
  t[22] = 0;
  t[23] = 1;  // claims 1 byte; padding to 4 needs 8 bytes of attribute space, only 4 present
  EXPECT_FALSE(parse(t, &st));
}

TEST(Parse, FirstOccurrenceWinsAndAttributesAfterIntegrityAreIgnored) {
  std::vector<uint8_t> buf(512);
  StunWriter w(MutableBytes(buf.data(), buf.size()), Method::Allocate, MessageClass::Request,
               kTxid);
  w.add_text(attr::Username, "first");
  w.add_text(attr::Username, "second");
  const uint8_t key[4] = {1, 2, 3, 4};
  w.add_message_integrity(Bytes(key, 4));
  buf.resize(w.size());
  // Append a USERNAME and an XOR-PEER-ADDRESS after MESSAGE-INTEGRITY (fixing the length).
  const uint8_t extra[] = {0x00, 0x06, 0x00, 0x04, 'e',  'v',  'i',  'l',  0x00, 0x12,
                           0x00, 0x08, 0x00, 0x01, 0x00, 0x00, 0x5e, 0x12, 0xa4, 0x43};
  buf.insert(buf.end(), extra, extra + sizeof extra);
  store_be16(buf.data() + 2, uint16_t(buf.size() - 20));
  auto m = parse(buf);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->text(*m->find(attr::Username)), "first");
  EXPECT_FALSE(m->find(attr::XorPeerAddress));
  int usernames = 0;
  m->for_each([&](const Attribute& a) { usernames += a.type == attr::Username; });
  EXPECT_EQ(usernames, 2);
  // The MAC still verifies: it covers only what precedes it.
  EXPECT_TRUE(verify_message_integrity(*m, Bytes(key, 4)));
}

TEST(Parse, IntegritySizesAreChecked) {
  ParseStatus st;
  EXPECT_FALSE(parse(build({{attr::MessageIntegrity, std::vector<uint8_t>(16)}}), &st));
  EXPECT_EQ(st, ParseStatus::BadAttribute);
  EXPECT_FALSE(parse(build({{attr::MessageIntegritySha256, std::vector<uint8_t>(12)}}), &st));
  EXPECT_FALSE(parse(build({{attr::MessageIntegritySha256, std::vector<uint8_t>(18)}}), &st));
  EXPECT_FALSE(parse(build({{attr::MessageIntegritySha256, std::vector<uint8_t>(36)}}), &st));
  EXPECT_TRUE(parse(build({{attr::MessageIntegritySha256, std::vector<uint8_t>(16)}})));
  EXPECT_TRUE(parse(build({{attr::MessageIntegritySha256, std::vector<uint8_t>(32)}})));
}

TEST(Parse, FingerprintMustMatchAndBeLast) {
  std::vector<uint8_t> buf(512);
  StunWriter w(MutableBytes(buf.data(), buf.size()), Method::Binding, MessageClass::Request, kTxid);
  w.add_text(attr::Software, "x");
  w.add_fingerprint();
  buf.resize(w.size());
  ASSERT_TRUE(parse(buf));
  EXPECT_TRUE(parse(buf)->has_fingerprint());
  ParseStatus st;
  auto bad = buf;
  bad.back() ^= 1;
  EXPECT_FALSE(parse(bad, &st));
  EXPECT_EQ(st, ParseStatus::BadFingerprint);
  // Something after FINGERPRINT.
  bad = buf;
  bad.insert(bad.end(), {0x80, 0x22, 0x00, 0x00});
  store_be16(bad.data() + 2, uint16_t(bad.size() - 20));
  EXPECT_FALSE(parse(bad, &st));
}

TEST(Parse, UnknownComprehensionRequiredAttributes) {
  const auto bytes = build(
      {{0x0042, {1}}, {0x7FFF, {}}, {0x8042, {2}}, {attr::Lifetime, {0, 0, 0, 1}}, {0x0042, {3}}});
  auto m = parse(bytes);  // the message views `bytes`, which must outlive it
  ASSERT_TRUE(m);
  uint16_t out[16];
  const size_t n = m->unknown_comprehension_required(out, 16);
  ASSERT_EQ(n, 2u);  // 0x0042 once, 0x7FFF; 0x8042 is comprehension-optional
  EXPECT_EQ(out[0], 0x0042);
  EXPECT_EQ(out[1], 0x7FFF);
}

TEST(Writer, PaddingIsZeroAndLengthsAreRight) {
  std::vector<uint8_t> buf(256, 0xAA);  // poison: padding must not leak it
  StunWriter w(MutableBytes(buf.data(), buf.size()), Method::Allocate, MessageClass::Success,
               kTxid);
  w.add_text(attr::Realm, "abcde");
  w.add_error_code(486, "Allocation Quota Reached");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(load_be16(buf.data() + 2), w.size() - 20);
  EXPECT_EQ(w.size() % 4, 0u);
  EXPECT_EQ(buf[20 + 4 + 5], 0);
  EXPECT_EQ(buf[20 + 4 + 6], 0);
  EXPECT_EQ(buf[20 + 4 + 7], 0);
  auto m = StunMessage::parse(w.bytes());
  ASSERT_TRUE(m);
  auto e = decode_error_code(m->value(*m->find(attr::ErrorCode)));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, 486);
  EXPECT_EQ(e->reason, "Allocation Quota Reached");
}

TEST(Writer, OverflowIsReportedNotWritten) {
  std::vector<uint8_t> buf(40, 0xAA);
  StunWriter w(MutableBytes(buf.data(), 32), Method::Binding, MessageClass::Success, kTxid);
  w.add_text(attr::Software, "this does not fit in twelve bytes");
  EXPECT_FALSE(w.ok());
  EXPECT_EQ(buf[32], 0xAA);
}

TEST(Writer, IntegrityThenFingerprintRoundTrip) {
  std::vector<uint8_t> buf(256);
  StunWriter w(MutableBytes(buf.data(), buf.size()), Method::Refresh, MessageClass::Success, kTxid);
  w.add_u32(attr::Lifetime, 600);
  const uint8_t key[16] = {9};
  w.add_message_integrity_sha256(Bytes(key, 16));
  w.add_fingerprint();
  ASSERT_TRUE(w.ok());
  auto m = StunMessage::parse(w.bytes());
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->has_fingerprint());
  EXPECT_TRUE(verify_message_integrity_sha256(*m, Bytes(key, 16)));
  EXPECT_FALSE(verify_message_integrity(*m, Bytes(key, 16)));
}

TEST(XorAddress, RejectsFamilyLengthMismatch) {
  const uint8_t header[20] = {0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 1,  2,
                              3, 4, 5, 6, 7,    8,    9,    10,   11, 12};
  std::vector<uint8_t> v4 = {0, 1, 0, 0, 1, 2, 3, 4};
  std::vector<uint8_t> v6(20, 0);
  v6[1] = 2;
  EXPECT_TRUE(decode_xor_address(Bytes(v4.data(), 8), header));
  EXPECT_TRUE(decode_xor_address(Bytes(v6.data(), 20), header));
  v4[1] = 2;  // IPv6 family with 4 address bytes
  EXPECT_FALSE(decode_xor_address(Bytes(v4.data(), 8), header));
  v6[1] = 1;  // IPv4 family with 16 address bytes
  EXPECT_FALSE(decode_xor_address(Bytes(v6.data(), 20), header));
  v4[1] = 3;  // unknown family
  EXPECT_FALSE(decode_xor_address(Bytes(v4.data(), 8), header));
  EXPECT_FALSE(decode_xor_address(Bytes(v4.data(), 3), header));
}

TEST(XorAddress, RoundTripBothFamilies) {
  const uint8_t header[20] = {0,    1,    0, 0, 0x21, 0x12, 0xa4, 0x42, 0xde, 0xad,
                              0xbe, 0xef, 5, 6, 7,    8,    9,    10,   11,   12};
  for (const char* text :
       {"203.0.113.5:1", "[2001:db8::77]:65535", "0.0.0.0:0", "[::ffff:127.0.0.1]:3478"}) {
    auto a = SocketAddress::parse(text);
    ASSERT_TRUE(a) << text;
    uint8_t v[20];
    encode_xor_address(*a, header, v);
    auto back = decode_xor_address(Bytes(v, a->ip().is_v4() ? 8 : 20), header);
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, *a) << text;
  }
}

TEST(Fingerprint, Crc32MatchesZlib) {
  const char* s = "123456789";
  EXPECT_EQ(crc32(Bytes(reinterpret_cast<const uint8_t*>(s), 9)), 0xCBF43926u);
}

}  // namespace
}  // namespace turnpike::core
