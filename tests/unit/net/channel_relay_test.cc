// The kernel fast path's TC program (net/offload/channel_relay.bpf.c), run by the kernel on test
// packets (BPF_PROG_TEST_RUN): the real program in the real verifier and interpreter/JIT, the
// packets built here from the RFCs, every checksum of the result recomputed here independently.
// Needs CAP_BPF and CAP_NET_ADMIN (root); skipped otherwise.
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/ip_address.h"
#include "net/offload/flow_layout.h"
#include "net/offload/kernel_offload.h"

namespace turnpike::net {
namespace {

using Bytes = std::vector<uint8_t>;

constexpr int kRedirect = TC_ACT_REDIRECT;
constexpr int kPass = TC_ACT_UNSPEC;

uint16_t be16(const uint8_t* p) {
  return uint16_t(p[0] << 8 | p[1]);
}
void put16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}

// RFC 1071: the 16-bit ones' complement sum.
uint32_t sum16(const uint8_t* p, size_t n, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += uint32_t(p[i] << 8 | p[i + 1]);
  if (n & 1) sum += uint32_t(p[n - 1] << 8);
  return sum;
}
uint16_t fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return uint16_t(sum);
}
// The UDP checksum's sum over pseudo header and datagram (RFC 768, RFC 8200 §8.1); a correct
// checksum makes it 0xFFFF.
uint16_t udp_sum(bool v6, const uint8_t* src, const uint8_t* dst, const uint8_t* udp, size_t len) {
  const size_t alen = v6 ? 16 : 4;
  uint32_t s = sum16(src, alen) + sum16(dst, alen) + 17 + uint32_t(len);
  return fold(sum16(udp, len, s));
}

struct Address {
  core::IpAddress ip;
  uint16_t port;
};
Address at(const char* ip, uint16_t port) {
  return {*core::IpAddress::parse(ip), port};
}

// Ethernet, IPv4 (DF, DSCP EF with ECT(1), TTL 64) or IPv6 (the same traffic class, a flow
// label), UDP with a correct checksum (or none: IPv4 only), then `payload`.
Bytes datagram(const Address& from, const Address& to, const Bytes& payload, uint8_t ttl = 64,
               bool no_checksum = false) {
  const bool v6 = from.ip.is_v6();
  const size_t ip_len = v6 ? 40 : 20;
  const size_t udp_len = 8 + payload.size();
  Bytes b(14 + ip_len + udp_len);
  uint8_t* eth = b.data();
  const uint8_t macs[12] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2};
  std::memcpy(eth, macs, 12);
  put16(eth + 12, v6 ? 0x86DD : 0x0800);
  uint8_t* ip = eth + 14;
  if (v6) {
    ip[0] = 0x6B;  // version 6, traffic class 0xB9 (EF, ECT(1))
    ip[1] = 0x91;  // ... and the flow label 0x12345
    ip[2] = 0x23;
    ip[3] = 0x45;
    put16(ip + 4, uint16_t(udp_len));
    ip[6] = 17;
    ip[7] = ttl;
    std::memcpy(ip + 8, from.ip.data(), 16);
    std::memcpy(ip + 24, to.ip.data(), 16);
  } else {
    ip[0] = 0x45;
    ip[1] = 0xB9;
    put16(ip + 2, uint16_t(20 + udp_len));
    put16(ip + 4, 0x1234);
    put16(ip + 6, 0x4000);  // DF
    ip[8] = ttl;
    ip[9] = 17;
    std::memcpy(ip + 12, from.ip.data(), 4);
    std::memcpy(ip + 16, to.ip.data(), 4);
    put16(ip + 10, uint16_t(~fold(sum16(ip, 20))));
  }
  uint8_t* udp = ip + ip_len;
  put16(udp, from.port);
  put16(udp + 2, to.port);
  put16(udp + 4, uint16_t(udp_len));
  std::copy(payload.begin(), payload.end(), udp + 8);  // memcpy from an empty vector's null data() is undefined
  if (!no_checksum) {
    uint16_t c = uint16_t(~udp_sum(v6, from.ip.data(), to.ip.data(), udp, udp_len));
    put16(udp + 6, c == 0 ? 0xFFFF : c);
  }
  return b;
}

Bytes channel_data(uint16_t channel, const Bytes& data, size_t padding = 0, uint8_t fill = 0xAA) {
  Bytes b(4 + data.size() + padding, fill);
  put16(b.data(), channel);
  put16(b.data() + 2, uint16_t(data.size()));
  std::copy(data.begin(), data.end(), b.begin() + 4);
  return b;
}

Bytes pattern(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = uint8_t(i * 31 + 7);
  return b;
}

// What a relayed packet must look like: addresses, ports, lengths, TTL one less, the rest of the
// IP header as it came, checksums that verify.
void expect_datagram(const Bytes& out, const Address& from, const Address& to, const Bytes& payload,
                     bool no_checksum = false) {
  const bool v6 = from.ip.is_v6();
  const size_t ip_len = v6 ? 40 : 20;
  ASSERT_EQ(out.size(), 14 + ip_len + 8 + payload.size());
  const uint8_t* ip = out.data() + 14;
  const uint8_t* udp = ip + ip_len;
  if (v6) {
    EXPECT_EQ(be16(out.data() + 12), 0x86DD);
    EXPECT_EQ(ip[0], 0x6B);         // version, traffic class kept (RFC 8656 §14)
    EXPECT_EQ(ip[1] & 0xF0, 0x90);  // ... and the flow label zeroed
    EXPECT_EQ(ip[1] & 0x0F, 0);
    EXPECT_EQ(be16(ip + 2), 0);
    EXPECT_EQ(be16(ip + 4), 8 + payload.size());
    EXPECT_EQ(ip[6], 17);
    EXPECT_EQ(ip[7], 63);
    EXPECT_EQ(0, std::memcmp(ip + 8, from.ip.data(), 16));
    EXPECT_EQ(0, std::memcmp(ip + 24, to.ip.data(), 16));
  } else {
    EXPECT_EQ(ip[0], 0x45);
    EXPECT_EQ(ip[1], 0xB9);             // DSCP and ECN copied (RFC 8656 §14)
    EXPECT_EQ(be16(ip + 2), 28 + payload.size());
    EXPECT_EQ(be16(ip + 4), 0x1234);
    EXPECT_EQ(be16(ip + 6), 0x4000);    // DF copied
    EXPECT_EQ(ip[8], 63);               // TTL one less
    EXPECT_EQ(0, std::memcmp(ip + 12, from.ip.data(), 4));
    EXPECT_EQ(0, std::memcmp(ip + 16, to.ip.data(), 4));
    EXPECT_EQ(fold(sum16(ip, 20)), 0xFFFF) << "IPv4 header checksum";
  }
  EXPECT_EQ(be16(udp), from.port);
  EXPECT_EQ(be16(udp + 2), to.port);
  EXPECT_EQ(be16(udp + 4), 8 + payload.size());
  if (no_checksum) {
    EXPECT_EQ(be16(udp + 6), 0) << "a datagram without checksum stays without one";
  } else {
    EXPECT_NE(be16(udp + 6), 0);
    EXPECT_EQ(udp_sum(v6, from.ip.data(), to.ip.data(), udp, 8 + payload.size()), 0xFFFF)
        << "UDP checksum, payload of " << payload.size();
  }
  EXPECT_EQ(Bytes(udp + 8, udp + 8 + payload.size()), payload);
}

class ChannelRelayProgram : public ::testing::Test {
 protected:
  // One binding, both families: client <-> server (listener) and relay <-> peer.
  Address client4 = at("192.0.2.10", 50000), server4 = at("192.0.2.1", 3478);
  Address relay4 = at("198.51.100.1", 40000), peer4 = at("198.51.100.20", 3480);
  Address client6 = at("2001:db8:1::10", 50000), server6 = at("2001:db8:1::1", 3478);
  Address relay6 = at("2001:db8:2::1", 40000), peer6 = at("2001:db8:2::20", 3480);
  static constexpr uint16_t kChannel = 0x7001;  // RFC 5766's upper range, as clients use it

  void SetUp() override {
    std::string why;
    OffloadOptions o;
    o.flows = 16;
    o.attach = false;
    k_ = KernelOffload::load(o, &why);
    if (!k_) GTEST_SKIP() << "cannot load the program here: " << why;
    k_->heartbeat();
    install(0, client4, server4, relay4, peer4);
    install(1, client6, server6, relay6, peer6);
  }

  void install(uint32_t slot, const Address& client, const Address& server, const Address& relay,
               const Address& peer, uint64_t expires_ns = UINT64_MAX) {
    tp_flow& f = k_->flows()[slot];
    f = tp_flow{};
    f.family = client.ip.is_v4() ? TP_FAMILY_V4 : TP_FAMILY_V6;
    put16(reinterpret_cast<uint8_t*>(&f.channel), kChannel);
    f.client_ifindex = f.peer_ifindex = 1;  // loopback: the MTU check needs a device
    put16(reinterpret_cast<uint8_t*>(&f.client_port), client.port);
    put16(reinterpret_cast<uint8_t*>(&f.server_port), server.port);
    put16(reinterpret_cast<uint8_t*>(&f.relay_port), relay.port);
    put16(reinterpret_cast<uint8_t*>(&f.peer_port), peer.port);
    std::memcpy(f.client_ip, client.ip.data(), client.ip.size());
    std::memcpy(f.server_ip, server.ip.data(), server.ip.size());
    std::memcpy(f.relay_ip, relay.ip.data(), relay.ip.size());
    std::memcpy(f.peer_ip, peer.ip.data(), peer.ip.size());
    f.expires_ns = expires_ns;
    tp_client_key ck{};
    ck.family = f.family;
    ck.channel = f.channel;
    ck.client_port = f.client_port;
    ck.server_port = f.server_port;
    std::memcpy(ck.client_ip, f.client_ip, 16);
    std::memcpy(ck.server_ip, f.server_ip, 16);
    tp_peer_key pk{};
    pk.family = f.family;
    pk.peer_port = f.peer_port;
    pk.relay_port = f.relay_port;
    std::memcpy(pk.peer_ip, f.peer_ip, 16);
    std::memcpy(pk.relay_ip, f.relay_ip, 16);
    ASSERT_EQ(bpf_map_update_elem(k_->client_index_fd(), &ck, &slot, BPF_ANY), 0);
    ASSERT_EQ(bpf_map_update_elem(k_->peer_index_fd(), &pk, &slot, BPF_ANY), 0);
  }

  // Runs the program on `in`; returns its verdict, the packet as it left in `out`.
  int run(const Bytes& in, Bytes* out, uint32_t gso_segs = 0) {
    Bytes buf(in.size() + 256);
    bpf_test_run_opts opts{};
    opts.sz = sizeof opts;
    opts.data_in = in.data();
    opts.data_size_in = uint32_t(in.size());
    opts.data_out = buf.data();
    opts.data_size_out = uint32_t(buf.size());
    opts.repeat = 1;
    __sk_buff ctx{};
    if (gso_segs) {
      ctx.gso_segs = gso_segs;
      ctx.gso_size = 100;
      opts.ctx_in = &ctx;
      opts.ctx_size_in = sizeof ctx;
    }
    EXPECT_EQ(bpf_prog_test_run_opts(k_->program_fd(), &opts), 0) << std::strerror(errno);
    buf.resize(opts.data_size_out);
    *out = buf;
    return int(opts.retval);
  }

  uint64_t stat(tp_stat s) { return k_->stats()[s]; }

  std::unique_ptr<KernelOffload> k_;
};

TEST_F(ChannelRelayProgram, ClientToPeerStripsTheHeaderAndAnyPadding) {
  for (const auto& [client, server, relay, peer, slot] :
       {std::tuple{client4, server4, relay4, peer4, 0}, std::tuple{client6, server6, relay6, peer6, 1}}) {
    // Odd lengths end in half a checksum word; RFC 8656 §12.5 padding over UDP may be present.
    for (size_t n : {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 200, 1201, 1400}) {
      for (size_t pad = 0; pad <= 3; ++pad) {
        SCOPED_TRACE("length " + std::to_string(n) + ", padding " + std::to_string(pad) + ", " +
                     client.ip.to_string());
        const Bytes data = pattern(n);
        Bytes out;
        const uint64_t before = k_->flows()[slot].to_peer_bytes;
        ASSERT_EQ(run(datagram(client, server, channel_data(kChannel, data, pad)), &out), kRedirect);
        expect_datagram(out, relay, peer, data);
        EXPECT_EQ(k_->flows()[slot].to_peer_bytes - before, n);  // the payload, as user space counts
      }
    }
  }
}

TEST_F(ChannelRelayProgram, PeerToClientAddsTheHeader) {
  for (const auto& [client, server, relay, peer, slot] :
       {std::tuple{client4, server4, relay4, peer4, 0}, std::tuple{client6, server6, relay6, peer6, 1}}) {
    for (size_t n : {0, 1, 2, 3, 7, 160, 1201}) {
      SCOPED_TRACE("length " + std::to_string(n) + ", " + client.ip.to_string());
      const Bytes data = pattern(n);
      Bytes out;
      const uint64_t packets = k_->flows()[slot].to_client_packets;
      ASSERT_EQ(run(datagram(peer, relay, data), &out), kRedirect);
      // RFC 8656 §12.4: channel number, length, data; no padding over UDP.
      expect_datagram(out, server, client, channel_data(kChannel, data));
      EXPECT_EQ(k_->flows()[slot].to_client_packets, packets + 1);
    }
  }
  EXPECT_GE(stat(TP_STAT_TO_CLIENT), 14u);
}

TEST_F(ChannelRelayProgram, DatagramsWithoutChecksumStayWithout) {
  const Bytes data = pattern(33);
  Bytes out;
  ASSERT_EQ(run(datagram(client4, server4, channel_data(kChannel, data, 3), 64, true), &out), kRedirect);
  expect_datagram(out, relay4, peer4, data, true);
  ASSERT_EQ(run(datagram(peer4, relay4, data, 64, true), &out), kRedirect);
  expect_datagram(out, server4, client4, channel_data(kChannel, data), true);
}

TEST_F(ChannelRelayProgram, WhatNoFlowMatchesGoesUpUntouched) {
  const Bytes cd = channel_data(kChannel, pattern(10));
  const Bytes cases[] = {
      datagram(at("192.0.2.11", 50000), server4, cd),                     // another client
      datagram(client4, at("192.0.2.1", 3479), cd),                       // another listener port
      datagram(client4, server4, channel_data(0x7002, pattern(10))),      // another channel
      datagram(client4, server4, channel_data(0x3FFF, pattern(10))),      // not a channel number
      datagram(at("198.51.100.20", 3481), relay4, pattern(10)),           // another peer port
      datagram(peer4, at("198.51.100.1", 40001), pattern(10)),            // another relay port
      datagram(client4, server4, Bytes{0x00, 0x01, 0x00, 0x00}),          // STUN
  };
  for (const Bytes& in : cases) {
    Bytes out;
    EXPECT_EQ(run(in, &out), kPass);
    EXPECT_EQ(out, in);
  }
  EXPECT_EQ(stat(TP_STAT_TO_PEER) + stat(TP_STAT_TO_CLIENT), 0u);
}

TEST_F(ChannelRelayProgram, ExpiredFlowsGoUp) {
  install(0, client4, server4, relay4, peer4, 1);  // expired long ago
  const Bytes in = datagram(client4, server4, channel_data(kChannel, pattern(10)));
  Bytes out;
  EXPECT_EQ(run(in, &out), kPass);
  EXPECT_EQ(out, in);
  EXPECT_EQ(run(datagram(peer4, relay4, pattern(10)), &out), kPass);
  EXPECT_EQ(stat(TP_STAT_EXPIRED), 2u);
  EXPECT_EQ(k_->flows()[0].to_peer_packets, 0u);
}

TEST_F(ChannelRelayProgram, MalformedChannelDataGoesUpToBeDiscarded) {
  Bytes out;
  // RFC 8656 §12.5: a length beyond the datagram is user space's to discard.
  Bytes shorter = channel_data(kChannel, pattern(10));
  put16(shorter.data() + 2, 11);
  EXPECT_EQ(run(datagram(client4, server4, shorter), &out), kPass);
  // More than 3 bytes after the data is not padding.
  EXPECT_EQ(run(datagram(client4, server4, channel_data(kChannel, pattern(10), 4)), &out), kPass);
  EXPECT_EQ(stat(TP_STAT_MALFORMED), 2u);
}

TEST_F(ChannelRelayProgram, TtlOfOneGoesUp) {
  Bytes out;
  EXPECT_EQ(run(datagram(client4, server4, channel_data(kChannel, pattern(10)), 1), &out), kPass);
  EXPECT_EQ(run(datagram(peer6, relay6, pattern(10), 1), &out), kPass);
  EXPECT_EQ(stat(TP_STAT_TTL), 2u);
}

TEST_F(ChannelRelayProgram, GsoPacketsGoUp) {
  Bytes out;
  EXPECT_EQ(run(datagram(client4, server4, channel_data(kChannel, pattern(10))), &out, 2), kPass);
  EXPECT_EQ(stat(TP_STAT_GSO), 1u);
}

TEST_F(ChannelRelayProgram, FragmentsAndOptionsAreNotLookedAt) {
  Bytes frag = datagram(client4, server4, channel_data(kChannel, pattern(10)));
  put16(frag.data() + 14 + 6, 0x2000);  // MF
  Bytes out;
  EXPECT_EQ(run(frag, &out), kPass);
  EXPECT_EQ(out, frag);
  Bytes options = datagram(client4, server4, channel_data(kChannel, pattern(10)));
  options[14] = 0x46;  // IHL 6: options follow the header
  EXPECT_EQ(run(options, &out), kPass);
  EXPECT_EQ(out, options);
  EXPECT_EQ(stat(TP_STAT_TO_PEER), 0u);
}

}  // namespace
}  // namespace turnpike::net
