// A relay::Server with recording fakes for its I/O and events, and helpers that build requests
// the way a real client does (401 challenge, then signed with the long-term key).
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/attributes/error_code.h"
#include "core/attributes/xor_address.h"
#include "core/long_term_key.h"
#include "core/rest_credentials.h"
#include "core/stun_message.h"
#include "core/stun_writer.h"
#include "relay/allocation.h"
#include "relay/server.h"

namespace turnpike::relay::test {

using core::MessageClass;
using core::Method;
namespace attr = core::attr;

struct FakeIo : RelayIo {
  struct ToClient {
    ClientRef client;
    std::vector<uint8_t> bytes;
  };
  struct ToPeer {
    RelaySocket* socket;
    SocketAddress peer;
    std::vector<uint8_t> data;
  };
  std::vector<ToClient> to_client;
  std::vector<ToPeer> to_peer;
  std::vector<OpenRelayRequest> opened;
  std::set<RelaySocket*> open_sockets;
  uintptr_t next_socket = 1;
  uint16_t next_port = 50000;
  uint16_t fail_with = 0;             // make open_relay fail with this code
  std::optional<Family> fail_family;  // ... only for this family

  OpenRelayResult open_relay(Allocation&, uint8_t, const OpenRelayRequest& r) override {
    opened.push_back(r);
    OpenRelayResult res;
    if (fail_with && (!fail_family || *fail_family == r.family)) {
      res.error = fail_with;
      return res;
    }
    res.socket = reinterpret_cast<RelaySocket*>(next_socket++);
    open_sockets.insert(res.socket);
    next_port += 2;
    res.bound =
        SocketAddress(r.reservation_token ? *IpAddress::parse("192.0.2.1") : r.bind_ip, next_port);
    if (r.reserve_next) res.reservation_token = 0x1122334455667788ull;
    return res;
  }
  void close_relay(RelaySocket* s) override {
    EXPECT_EQ(open_sockets.erase(s), 1u) << "closing a relay socket twice or one never opened";
  }
  // Hand-over: the sockets another process passed, by their number among those sent.
  std::map<uint32_t, RelaySocket*> adoptable;
  RelaySocket* adopt_relay(Allocation&, uint8_t, uint32_t fd) override {
    auto it = adoptable.find(fd);
    if (it == adoptable.end()) return nullptr;
    RelaySocket* s = it->second;
    adoptable.erase(it);
    open_sockets.insert(s);
    return s;
  }
  void send_to_peer(RelaySocket* s, const SocketAddress& peer, core::Bytes payload) override {
    to_peer.push_back({s, peer, std::vector<uint8_t>(payload.begin(), payload.end())});
  }
  void send_to_client(const ClientRef& c, core::Bytes message) override {
    to_client.push_back({c, std::vector<uint8_t>(message.begin(), message.end())});
  }

  // RFC 6062.
  struct Connect {
    uint32_t id;
    SocketAddress from;
    SocketAddress peer;
    PeerConnection* socket;
  };
  struct Bind {
    PeerConnection* socket;
    ClientRef data;
    size_t responses_before;  // how many messages the client had been sent when it was bound
  };
  struct Move {
    ClientRef client;
    uint8_t worker;
    std::vector<uint8_t> message;
  };
  std::vector<Connect> connects;
  std::vector<Bind> binds;
  std::vector<Move> moves;
  std::set<PeerConnection*> open_peers;
  std::vector<PeerConnection*> closed_peers;
  bool fail_connect = false;  // connect_peer cannot make a socket
  bool allow_move = true;

  PeerConnection* new_peer() {
    auto* p = reinterpret_cast<PeerConnection*>(next_socket++);
    open_peers.insert(p);
    return p;
  }
  PeerConnection* connect_peer(uint32_t id, const SocketAddress& from,
                               const SocketAddress& peer) override {
    if (fail_connect) return nullptr;
    PeerConnection* p = new_peer();
    connects.push_back({id, from, peer, p});
    return p;
  }
  void bind_peer(PeerConnection* p, const ClientRef& data) override {
    EXPECT_EQ(open_peers.count(p), 1u) << "binding a peer connection that is not open";
    binds.push_back({p, data, to_client.size()});
  }
  void close_peer(PeerConnection* p) override {
    EXPECT_EQ(open_peers.erase(p), 1u) << "closing a peer connection twice or one never opened";
    closed_peers.push_back(p);
  }
  bool move_client(const ClientRef& c, uint8_t worker, core::Bytes message) override {
    if (!allow_move) return false;
    moves.push_back({c, worker, std::vector<uint8_t>(message.begin(), message.end())});
    return true;
  }
};

struct Recorder : EventSink {
  std::vector<uint64_t> started;
  std::vector<std::pair<uint64_t, EndReason>> ended;
  struct Refused {
    RefusalReason reason;
    uint16_t code;
    std::string username;
    std::string detail;
    std::optional<SocketAddress> peer;
  };
  std::vector<Refused> refused_list;
  int permissions = 0;
  int channels = 0;
  uint64_t last_bytes_from_client = 0;

  void session_started(const Allocation& a, const Now&) override { started.push_back(a.id); }
  void permission_installed(const Allocation&, const IpAddress&, const Now&) override {
    ++permissions;
  }
  void channel_bound(const Allocation&, uint16_t, const SocketAddress&, const Now&) override {
    ++channels;
  }
  void session_ended(const Allocation& a, EndReason why, const Now&) override {
    ended.push_back({a.id, why});
    last_bytes_from_client = a.from_client.bytes;
  }
  void refused(const Refusal& r) override {
    refused_list.push_back(
        {r.reason, r.code, std::string(r.username), std::string(r.detail), r.peer});
  }
};

// A decoded response that owns its bytes.
struct Response {
  std::vector<uint8_t> bytes;
  std::optional<core::StunMessage> msg;

  explicit Response(std::vector<uint8_t> b) : bytes(std::move(b)) { reparse(); }
  // `msg` views `bytes`: a copy must view its own copy.
  Response(const Response& o) : bytes(o.bytes) { reparse(); }
  Response& operator=(const Response& o) {
    bytes = o.bytes;
    reparse();
    return *this;
  }
  void reparse() { msg = core::StunMessage::parse(core::Bytes(bytes.data(), bytes.size())); }
  bool ok() const { return msg && msg->message_class() == MessageClass::Success; }
  uint16_t error() const {
    if (!msg || msg->message_class() != MessageClass::Error) return 0;
    auto a = msg->find(attr::ErrorCode);
    return a ? core::decode_error_code(msg->value(*a))->code : 0;
  }
  std::string reason() const {
    auto a = msg->find(attr::ErrorCode);
    return a ? std::string(core::decode_error_code(msg->value(*a))->reason) : "";
  }
  std::optional<SocketAddress> address(uint16_t type) const {
    auto a = msg->find(type);
    if (!a) return std::nullopt;
    return core::decode_xor_address(msg->value(*a), msg->bytes().data());
  }
  std::vector<SocketAddress> addresses(uint16_t type) const {
    std::vector<SocketAddress> out;
    msg->for_each([&](const core::Attribute& a) {
      if (a.type == type)
        out.push_back(*core::decode_xor_address(msg->value(a), msg->bytes().data()));
    });
    return out;
  }
  std::optional<uint32_t> u32(uint16_t type) const {
    auto a = msg->find(type);
    if (!a || a->length != 4) return std::nullopt;
    return core::load_be32(msg->value(*a).data());
  }
  std::string text(uint16_t type) const {
    auto a = msg->find(type);
    return a ? std::string(msg->text(*a)) : "";
  }
  bool has(uint16_t type) const { return msg->find(type).has_value(); }
};

using AttrWriter = std::function<void(core::StunWriter&)>;

class RelayTest : public ::testing::Test {
 protected:
  static constexpr const char* kSecret = "relay-test-secret";
  static constexpr const char* kRealm = "test.realm";

  Settings settings;
  PeerPolicy::Options policy_options;
  std::unique_ptr<PeerPolicy> policy;
  core::NonceCodec nonces{std::array<uint8_t, 32>{42}};
  FakeIo io;
  Recorder events;
  std::unique_ptr<QuotaBook> quotas;
  core::SeededRandom random{42};  // deterministic tables, transaction ids and CONNECTION-IDs
  ConnectionIds connection_ids{random};
  std::shared_ptr<Credentials> creds;
  std::unique_ptr<Server> server;
  Now now{10'000'000, 1'800'000'000'000};

  SocketAddress client = *SocketAddress::parse("198.51.100.10:40000");
  SocketAddress local = *SocketAddress::parse("192.0.2.1:3478");
  Transport transport = Transport::Udp;
  std::string username;
  std::string password;
  core::HashAlgorithm algorithm = core::HashAlgorithm::Md5;
  bool use_sha256_mi = false;
  std::string nonce;
  struct Tag : ClientHandle {} client_ref_tag;

  void SetUp() override {
    settings.relay_addresses = {*IpAddress::parse("192.0.2.1"), *IpAddress::parse("2001:db8::1")};
    creds = std::make_shared<Credentials>();
    creds->realm = kRealm;
    creds->rest_enabled = true;
    creds->secrets_newest_first = {kSecret};
    start(0, 0);
    use_rest_user("alice");
  }

  // (Re)creates the server with the current settings, policy options and credentials.
  void start(unsigned user_quota, unsigned total_quota) {
    server.reset();
    quotas = std::make_unique<QuotaBook>(user_quota, total_quota);
    policy = std::make_unique<PeerPolicy>(policy_options);
    server = std::make_unique<Server>(settings, *policy, creds, nonces, io, events, *quotas,
                                      connection_ids, 1, random);
  }

  void use_rest_user(const std::string& user, int64_t ttl = 3600,
                     const std::string& secret = kSecret) {
    auto c = core::mint_rest_credential(secret, user, now.unix_s(), ttl);
    username = c.username;
    password = c.password;
  }

  void advance(int64_t seconds) {
    now.mono_ms += seconds * 1000;
    now.unix_ms += seconds * 1000;
  }

  FiveTuple tuple() const { return FiveTuple{client, local, transport}; }
  ClientRef ref() { return ClientRef{&client_ref_tag, client}; }

  // Feeds raw bytes; returns the responses sent to the client meanwhile.
  std::vector<Response> feed(const std::vector<uint8_t>& bytes) {
    const size_t before = io.to_client.size();
    server->on_client_packet(ref(), tuple(), core::Bytes(bytes.data(), bytes.size()), now);
    std::vector<Response> out;
    for (size_t i = before; i < io.to_client.size(); ++i) out.emplace_back(io.to_client[i].bytes);
    return out;
  }

  Response one(const std::vector<uint8_t>& bytes) {
    auto r = feed(bytes);
    EXPECT_EQ(r.size(), 1u) << "expected exactly one response";
    if (r.empty()) return Response({});
    return r.back();
  }

  std::vector<uint8_t> build(Method m, MessageClass c, const AttrWriter& attrs, bool sign,
                             const uint8_t* txid = nullptr) {
    std::vector<uint8_t> buf(2048);
    uint8_t id[12];
    if (txid) {
      std::memcpy(id, txid, 12);
    } else {
      for (int i = 0; i < 12; ++i) id[i] = uint8_t(next_txid_ + i * 7);
      ++next_txid_;
    }
    core::StunWriter w(core::MutableBytes(buf.data(), buf.size()), m, c, id);
    if (attrs) attrs(w);
    if (sign) {
      w.add_text(attr::Username, username);
      w.add_text(attr::Realm, kRealm);
      w.add_text(attr::Nonce, nonce);
      const core::LongTermKey k = core::long_term_key(algorithm, username, kRealm, password);
      if (use_sha256_mi) {
        w.add_message_integrity_sha256(k.view());
      } else {
        w.add_message_integrity(k.view());
      }
    }
    EXPECT_TRUE(w.ok());
    buf.resize(w.size());
    return buf;
  }

  // Gets a nonce the way a client does: an unsigned request answered 401.
  void get_nonce() {
    auto r = one(build(
        Method::Allocate, MessageClass::Request,
        [](core::StunWriter& w) { w.add(attr::RequestedTransport, core::Bytes(kUdp, 4)); }, false));
    ASSERT_EQ(r.error(), 401);
    nonce = r.text(attr::Nonce);
    ASSERT_FALSE(nonce.empty());
  }

  // A signed request; like a real client, retries once with the fresh nonce of a 438.
  Response request(Method m, const AttrWriter& attrs = nullptr, const uint8_t* txid = nullptr) {
    if (nonce.empty()) get_nonce();
    Response r = one(build(m, MessageClass::Request, attrs, true, txid));
    if (r.error() == 438 && retry_stale_nonce) {
      nonce = r.text(attr::Nonce);
      r = one(build(m, MessageClass::Request, attrs, true, txid));
    }
    return r;
  }
  bool retry_stale_nonce = true;

  Response allocate(const AttrWriter& extra = nullptr, const uint8_t* txid = nullptr) {
    return request(
        Method::Allocate,
        [&](core::StunWriter& w) {
          w.add(attr::RequestedTransport, core::Bytes(kUdp, 4));
          if (extra) extra(w);
        },
        txid);
  }

  Response create_permission(std::initializer_list<const char*> peers) {
    std::vector<SocketAddress> addrs;
    for (const char* p : peers) {
      auto ip = IpAddress::parse(p);
      EXPECT_TRUE(ip) << p;
      addrs.emplace_back(*ip, 0);
    }
    return request(Method::CreatePermission, [&](core::StunWriter& w) {
      for (const auto& a : addrs) w.add_xor_address(attr::XorPeerAddress, a);
    });
  }

  Response channel_bind(uint16_t channel, const char* peer) {
    auto p = SocketAddress::parse(peer);
    EXPECT_TRUE(p) << peer;
    return request(Method::ChannelBind, [&](core::StunWriter& w) {
      uint8_t v[4] = {uint8_t(channel >> 8), uint8_t(channel), 0, 0};
      w.add(attr::ChannelNumber, core::Bytes(v, 4));
      w.add_xor_address(attr::XorPeerAddress, *p);
    });
  }

  Response refresh(std::optional<uint32_t> lifetime) {
    return request(Method::Refresh, [&](core::StunWriter& w) {
      if (lifetime) w.add_u32(attr::Lifetime, *lifetime);
    });
  }

  void send_indication(const char* peer, const std::string& data) {
    auto p = SocketAddress::parse(peer);
    feed(build(
        Method::Send, MessageClass::Indication,
        [&](core::StunWriter& w) {
          w.add_xor_address(attr::XorPeerAddress, *p);
          w.add_text(attr::Data, data);
        },
        false));
  }

  void channel_data(uint16_t channel, const std::string& data) {
    std::vector<uint8_t> b = {uint8_t(channel >> 8), uint8_t(channel), uint8_t(data.size() >> 8),
                              uint8_t(data.size())};
    b.insert(b.end(), data.begin(), data.end());
    feed(b);
  }

  // Data from `peer` arriving on the allocation's first relay socket.
  std::vector<uint8_t> peer_sends(const char* peer, const std::string& data, uint8_t index = 0) {
    Allocation* a = server->find(tuple());
    EXPECT_NE(a, nullptr);
    std::vector<uint8_t> buf(Server::kHeadroom + data.size() + Server::kTailroom, 0xEE);
    std::memcpy(buf.data() + Server::kHeadroom, data.data(), data.size());
    const size_t before = io.to_client.size();
    server->on_peer_packet(*a, index, *SocketAddress::parse(peer), buf.data() + Server::kHeadroom,
                           data.size(), now);
    if (io.to_client.size() == before) return {};
    return io.to_client.back().bytes;
  }

  Allocation* allocation() { return server->find(tuple()); }

  static constexpr uint8_t kUdp[4] = {17, 0, 0, 0};

 private:
  uint8_t next_txid_ = 1;
};

}  // namespace turnpike::relay::test
