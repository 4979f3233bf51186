// The hand-over state codec (core/handover_state.h): a round trip keeps every field, the
// version is refused when newer than the reader's, and damaged input is refused with a reason,
// never read past its end.
#include "core/handover_state.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

using namespace turnpike::core;

namespace {

SocketAddress addr(const char* text) {
  return *SocketAddress::parse(text);
}

HandoverState sample() {
  HandoverState s;
  for (size_t i = 0; i < s.nonce_key.size(); ++i) s.nonce_key[i] = uint8_t(i * 7);
  s.ledger_boot = "00112233aabbccdd";
  s.fd_count = 5;
  s.workers = {{17, {1, 2, 3}}, {4, {}}};
  s.listeners = {{HandoverListenerKind::Udp, false, 0, addr("127.0.0.1:3478"), 0},
                 {HandoverListenerKind::Udp, false, 1, addr("127.0.0.1:3478"), 1},
                 {HandoverListenerKind::Tls, true, 1, addr("[::1]:5349"), 2}};
  HandoverAllocation a;
  a.worker = 1;
  a.id = (uint64_t(2) << 56) | 3;
  a.client = addr("192.0.2.10:50000");
  a.server = addr("127.0.0.1:3478");
  a.username = "1700000000:alice";
  a.key_algorithm = HashAlgorithm::Sha256;
  for (size_t i = 0; i < a.key.size(); ++i) a.key[i] = uint8_t(255 - i);
  a.authenticated = true;
  a.sha256 = true;
  a.fingerprint = true;
  a.relays = {{3, addr("10.0.0.1:50002"), addr("203.0.113.1:50002")},
              {4, addr("[2001:db8::1]:50004"), addr("[2001:db8::1]:50004")}};
  a.started_unix_ms = 1'700'000'000'123;
  a.expires_ms = 987'654'321;
  a.lifetime_s = 600;
  a.allocate_transaction_id = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  a.quota_key = "alice";
  a.permissions = {{*IpAddress::parse("198.51.100.7"), 1000, {10, 1}, {20, 2}},
                   {*IpAddress::parse("2001:db8::7"), 2000, {}, {}}};
  a.channels = {{0x4000, addr("198.51.100.7:40000"), 3000}, {0x7FFF, addr("[2001:db8::7]:1"), 4}};
  a.from_client = {1000, 10};
  a.to_client = {2000, 20};
  a.dropped = 3;
  s.allocations.push_back(a);
  return s;
}

TEST(HandoverState, RoundTripKeepsEveryField) {
  const HandoverState s = sample();
  const std::vector<uint8_t> wire = encode_handover(s);
  const HandoverDecoded d = decode_handover(wire);
  ASSERT_TRUE(d.state) << d.why;
  EXPECT_EQ(d.error, HandoverDecodeError::None);
  EXPECT_EQ(d.version, kHandoverVersion);
  EXPECT_EQ(*d.state, s);
}

TEST(HandoverState, EmptyStateRoundTrips) {
  HandoverState s;
  s.workers.resize(1);
  const HandoverDecoded d = decode_handover(encode_handover(s));
  ASSERT_TRUE(d.state) << d.why;
  EXPECT_EQ(*d.state, s);
}

TEST(HandoverState, NewerVersionIsRefusedWithBothVersionsNamed) {
  std::vector<uint8_t> wire = encode_handover(sample());
  store_be16(wire.data() + 4, kHandoverVersion + 1);
  const HandoverDecoded d = decode_handover(wire);
  EXPECT_FALSE(d.state);
  EXPECT_EQ(d.error, HandoverDecodeError::UnsupportedVersion);
  EXPECT_EQ(d.version, kHandoverVersion + 1);
  EXPECT_NE(d.why.find("version 2"), std::string::npos) << d.why;
  EXPECT_NE(d.why.find("reads 1 to 1"), std::string::npos) << d.why;
}

TEST(HandoverState, ReaderLimitedBelowTheWrittenVersionRefuses) {
  const HandoverDecoded d = decode_handover(encode_handover(sample()), 0);
  EXPECT_EQ(d.error, HandoverDecodeError::UnsupportedVersion);
  EXPECT_NE(d.why.find("reads none"), std::string::npos) << d.why;
}

TEST(HandoverState, VersionZeroIsRefused) {
  std::vector<uint8_t> wire = encode_handover(sample());
  store_be16(wire.data() + 4, 0);
  EXPECT_EQ(decode_handover(wire).error, HandoverDecodeError::UnsupportedVersion);
}

TEST(HandoverState, SomethingElseIsNotHandover) {
  EXPECT_EQ(decode_handover(Bytes()).error, HandoverDecodeError::NotHandover);
  const uint8_t stun[20] = {0, 1, 0, 0, 0x21, 0x12, 0xA4, 0x42};
  EXPECT_EQ(decode_handover(Bytes(stun, sizeof stun)).error, HandoverDecodeError::NotHandover);
}

TEST(HandoverState, EveryTruncationIsRefused) {
  const std::vector<uint8_t> wire = encode_handover(sample());
  for (size_t n = 0; n < wire.size(); ++n) {
    const HandoverDecoded d = decode_handover(Bytes(wire.data(), n));
    EXPECT_FALSE(d.state) << "accepted " << n << " of " << wire.size() << " bytes";
    EXPECT_FALSE(d.why.empty());
  }
}

TEST(HandoverState, TrailingBytesAreRefused) {
  std::vector<uint8_t> wire = encode_handover(sample());
  wire.push_back(0);
  store_be32(wire.data() + 8, uint32_t(wire.size() - 12));
  const HandoverDecoded d = decode_handover(wire);
  EXPECT_EQ(d.error, HandoverDecodeError::Malformed);
  EXPECT_NE(d.why.find("left over"), std::string::npos) << d.why;
}

TEST(HandoverState, WrongBodyLengthIsRefused) {
  std::vector<uint8_t> wire = encode_handover(sample());
  store_be32(wire.data() + 8, uint32_t(wire.size()));
  EXPECT_EQ(decode_handover(wire).error, HandoverDecodeError::Malformed);
}

HandoverDecoded with(void (*change)(HandoverState&)) {
  HandoverState s = sample();
  change(s);
  return decode_handover(encode_handover(s));
}

TEST(HandoverState, SocketsMustBeAmongThoseSent) {
  const HandoverDecoded d = with([](HandoverState& s) { s.fd_count = 4; });
  EXPECT_EQ(d.error, HandoverDecodeError::Malformed);
  EXPECT_NE(d.why.find("relay socket 4 not among the 4 sent"), std::string::npos) << d.why;
}

TEST(HandoverState, ASocketNamedTwiceIsRefused) {
  // Two owners of one descriptor would close it twice.
  const HandoverDecoded d = with([](HandoverState& s) { s.allocations[0].relays[0].fd = 1; });
  EXPECT_EQ(d.error, HandoverDecodeError::Malformed);
  EXPECT_NE(d.why.find("named twice"), std::string::npos) << d.why;
}

TEST(HandoverState, AllocationOfAnUnknownWorkerIsRefused) {
  const HandoverDecoded d = with([](HandoverState& s) { s.allocations[0].worker = 2; });
  EXPECT_NE(d.why.find("worker 2"), std::string::npos) << d.why;
  const HandoverDecoded e = with([](HandoverState& s) { s.listeners[0].worker = 9; });
  EXPECT_NE(e.why.find("worker 9"), std::string::npos) << e.why;
}

TEST(HandoverState, RelayedAddressesFollowRfc8656) {
  // RFC 8656 §7.2: one relayed address, or one per family.
  EXPECT_FALSE(with([](HandoverState& s) { s.allocations[0].relays.clear(); }).state);
  EXPECT_FALSE(with([](HandoverState& s) {
                 s.allocations[0].relays[1].bound = *SocketAddress::parse("10.0.0.2:1");
                 s.allocations[0].relays[1].announced = *SocketAddress::parse("10.0.0.2:1");
               }).state);
  EXPECT_FALSE(with([](HandoverState& s) {
                 s.allocations[0].relays[0].announced = *SocketAddress::parse("[::1]:1");
               }).state);
}

TEST(HandoverState, ChannelNumbersOutsideTheRangeAreRefused) {
  EXPECT_FALSE(with([](HandoverState& s) { s.allocations[0].channels[0].number = 0x3FFF; }).state);
  EXPECT_FALSE(with([](HandoverState& s) { s.allocations[0].channels[0].number = 0x8000; }).state);
}

TEST(HandoverState, BadFlagsAndFamiliesAreRefused) {
  std::vector<uint8_t> wire = encode_handover(sample());
  store_be16(wire.data() + 6, 1);
  EXPECT_NE(decode_handover(wire).why.find("flags"), std::string::npos);
  // The first listener's address family byte: header 12, key 32, boot 4+16, fd count 4,
  // workers 4 + (8+1+24) + (8+1), listener count 4, kind, proxy, worker (2).
  wire = encode_handover(sample());
  const size_t family = 12 + 32 + 20 + 4 + 4 + 33 + 9 + 4 + 4;
  ASSERT_EQ(wire[family], 4);
  wire[family] = 5;
  EXPECT_NE(decode_handover(wire).why.find("family 5"), std::string::npos)
      << decode_handover(wire).why;
}

TEST(HandoverState, HugeCountsAreRefusedBeforeAllocating) {
  HandoverState s;
  s.workers.resize(1);
  std::vector<uint8_t> wire = encode_handover(s);
  // The allocation count is the last field of an empty state.
  store_be32(wire.data() + wire.size() - 4, 0xFFFFFFFF);
  const HandoverDecoded d = decode_handover(wire);
  EXPECT_EQ(d.error, HandoverDecodeError::Malformed);
  EXPECT_NE(d.why.find("more than"), std::string::npos) << d.why;
  store_be32(wire.data() + wire.size() - 4, 1000);
  EXPECT_NE(decode_handover(wire).why.find("do not fit"), std::string::npos);
}

}  // namespace

// The link's messages (core/handover_message.h).
#include "core/handover_message.h"

namespace {

TEST(HandoverMessage, RoundTripAndRefusals) {
  HandoverMessage m{HandoverStep::Refused, 7, "config: /etc/turnpike.conf line 3: unknown option"};
  const std::vector<uint8_t> wire = encode_handover_message(m);
  const auto d = decode_handover_message(wire);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->step, HandoverStep::Refused);
  EXPECT_EQ(d->value, 7u);
  EXPECT_EQ(d->text, m.text);
  for (size_t n = 0; n < wire.size(); ++n) EXPECT_FALSE(decode_handover_message(Bytes(wire.data(), n)));
  std::vector<uint8_t> longer = wire;
  longer.push_back(0);
  EXPECT_FALSE(decode_handover_message(longer));
  std::vector<uint8_t> bad = wire;
  bad[4] = 0;
  EXPECT_FALSE(decode_handover_message(bad));
  bad[4] = 7;
  EXPECT_FALSE(decode_handover_message(bad));
  // Text is capped, never sent beyond kMaxText.
  m.text.assign(5000, 'x');
  EXPECT_EQ(decode_handover_message(encode_handover_message(m))->text.size(), HandoverMessage::kMaxText);
}

}  // namespace
