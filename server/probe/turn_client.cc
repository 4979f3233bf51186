#include "probe/turn_client.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "core/attributes/channel_number.h"
#include "core/attributes/error_code.h"
#include "core/attributes/lifetime.h"
#include "core/attributes/requested_transport.h"
#include "core/attributes/xor_address.h"
#include "core/channel_data.h"
#include "core/message_integrity.h"
#include "core/random.h"
#include "core/text_escape.h"

namespace turnpike::probe {

namespace {

// RFC 8489 §6.2.1: "RTO SHOULD be ... 500 ms", doubled on each retransmission. The probe stops
// after three transmissions and the time left of its budget: a person is waiting.
constexpr auto kInitialRto = std::chrono::milliseconds(500);
constexpr int kMaxTransmissions = 3;

std::string seconds_text(std::chrono::milliseconds ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", double(ms.count()) / 1000.0);
  return buf;
}

}  // namespace

std::optional<core::StunMessage> StunAnswer::message() const {
  return core::StunMessage::parse(core::Bytes(bytes.data(), bytes.size()));
}

std::string StunAnswer::describe() const {
  switch (kind) {
    case Kind::Success:
      return "success";
    case Kind::Error:
      return std::to_string(code) + " " + (reason.empty() ? "(no reason phrase)" : reason);
    case Kind::Timeout:
    case Kind::Failed:
      return error;
  }
  return "";
}

TurnClient::TurnClient(std::unique_ptr<StunTransport> t, std::chrono::milliseconds timeout)
    : t_(std::move(t)), timeout_(timeout) {}

StunAnswer TurnClient::transact(core::Method m, const Attributes& add, bool sign) {
  StunAnswer a;
  uint8_t txid[core::kTransactionIdSize];
  core::random_bytes(txid, sizeof txid);
  uint8_t buf[1024];
  core::StunWriter w(core::MutableBytes(buf, sizeof buf), m, core::MessageClass::Request, txid);
  if (add) add(w);
  if (sign) {
    w.add_text(core::attr::Username, username_);
    w.add_text(core::attr::Realm, realm_);
    w.add_text(core::attr::Nonce, nonce_);
    w.add_message_integrity(key_->view());
  }
  if (!w.ok()) {
    a.error = "the request does not fit in a message";
    return a;
  }
  const auto start = Clock::now();
  const auto give_up = start + timeout_;
  const bool udp = t_->kind() == Transport::Udp;
  auto rto = kInitialRto;
  auto next_send = start;
  std::string err;
  std::vector<uint8_t> in;
  for (;;) {
    if (Clock::now() >= next_send && (a.transmissions == 0 || (udp && a.transmissions < kMaxTransmissions))) {
      if (!t_->send(w.bytes(), give_up, &err)) {
        a.error = err;
        return a;
      }
      ++a.transmissions;
      next_send = Clock::now() + rto;
      rto *= 2;
    }
    const bool more = udp && a.transmissions < kMaxTransmissions;
    const auto wait_until = more ? std::min(next_send, give_up) : give_up;
    const Received r = t_->receive(&in, wait_until, &err);
    if (r == Received::Timeout) {
      if (Clock::now() < give_up) continue;
      a.kind = StunAnswer::Kind::Timeout;
      a.us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count();
      a.error = "no answer in " + seconds_text(timeout_) + " (" + std::to_string(a.transmissions) +
                (a.transmissions == 1 ? " request" : " requests") + ")";
      return a;
    }
    if (r == Received::Closed) {
      a.error = "the server closed the connection";
      return a;
    }
    if (r != Received::Message) {
      a.error = err;
      return a;
    }
    auto msg = core::StunMessage::parse(core::Bytes(in.data(), in.size()));
    if (!msg || std::memcmp(msg->transaction_id(), txid, sizeof txid) != 0 ||
        msg->method() != m) {
      continue;  // ChannelData, an indication, or a late answer to an earlier request
    }
    a.us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count();
    a.bytes = in;
    if (msg->message_class() == core::MessageClass::Success) {
      a.kind = StunAnswer::Kind::Success;
      return a;
    }
    if (msg->message_class() == core::MessageClass::Error) {
      a.kind = StunAnswer::Kind::Error;
      if (auto ec = msg->find(core::attr::ErrorCode)) {
        if (auto v = core::decode_error_code(msg->value(*ec))) {
          a.code = v->code;
          a.reason = core::escape_text(v->reason);
        }
      }
      return a;
    }
  }
}

StunAnswer TurnClient::binding(std::optional<core::SocketAddress>* mapped) {
  StunAnswer a = transact(core::Method::Binding, nullptr, false);
  if (!a.ok()) return a;
  auto m = a.message();
  if (auto x = m->find(core::attr::XorMappedAddress)) {
    *mapped = core::decode_xor_address(m->value(*x), m->bytes().data());
  } else if (auto p = m->find(core::attr::MappedAddress)) {
    *mapped = core::decode_plain_address(m->value(*p));
  }
  return a;
}

StunAnswer TurnClient::signed_request(core::Method m, const Attributes& add) {
  StunAnswer a = transact(m, add, true);
  // RFC 8489 §9.2.5: 438 Stale Nonce carries a new NONCE; retry once with it.
  if (a.kind == StunAnswer::Kind::Error && a.code == core::error::StaleNonce) {
    auto msg = a.message();
    if (auto n = msg->find(core::attr::Nonce)) {
      nonce_ = std::string(msg->text(*n));
      a = transact(m, add, true);
    }
  }
  return a;
}

TurnClient::Allocation TurnClient::allocate(const Credentials& c) {
  Allocation out;
  const auto udp_transport = [](core::StunWriter& w) {
    uint8_t v[4];
    core::encode_requested_transport(core::kProtocolUdp, v);
    w.add(core::attr::RequestedTransport, core::Bytes(v, 4));
  };
  out.challenge = transact(core::Method::Allocate, udp_transport, false);
  if (out.challenge.kind == StunAnswer::Kind::Success) {
    // A server without authentication: nothing to sign with (the probe reports it).
    out.answer = out.challenge;
  } else if (out.challenge.kind == StunAnswer::Kind::Error &&
             out.challenge.code == core::error::Unauthorized) {
    auto m = out.challenge.message();
    auto realm = m->find(core::attr::Realm);
    auto nonce = m->find(core::attr::Nonce);
    if (realm && nonce) {
      out.challenge_ok = true;
      realm_ = std::string(m->text(*realm));
      nonce_ = std::string(m->text(*nonce));
      out.realm = core::escape_text(realm_);
      username_ = c.username;
      key_ = core::long_term_key(core::HashAlgorithm::Md5, username_, realm_, c.password);
      out.answer = signed_request(core::Method::Allocate, udp_transport);
    }
  }
  if (out.answer.ok()) {
    auto m = out.answer.message();
    if (auto r = m->find(core::attr::XorRelayedAddress)) {
      if (auto a = core::decode_xor_address(m->value(*r), m->bytes().data())) out.relayed = *a;
    }
    if (auto x = m->find(core::attr::XorMappedAddress)) {
      if (auto a = core::decode_xor_address(m->value(*x), m->bytes().data())) out.mapped = *a;
    }
    if (auto l = m->find(core::attr::Lifetime)) {
      out.lifetime = core::decode_lifetime(m->value(*l)).value_or(0);
    }
    out.integrity_ok = key_ && core::verify_message_integrity(*m, key_->view());
  }
  return out;
}

StunAnswer TurnClient::create_permission(const core::IpAddress& peer) {
  return signed_request(core::Method::CreatePermission, [&](core::StunWriter& w) {
    w.add_xor_address(core::attr::XorPeerAddress, core::SocketAddress(peer, 0));
  });
}

StunAnswer TurnClient::channel_bind(uint16_t channel, const core::SocketAddress& peer) {
  return signed_request(core::Method::ChannelBind, [&](core::StunWriter& w) {
    uint8_t v[4];
    core::encode_channel_number(channel, v);
    w.add(core::attr::ChannelNumber, core::Bytes(v, 4));
    w.add_xor_address(core::attr::XorPeerAddress, peer);
  });
}

StunAnswer TurnClient::refresh(uint32_t lifetime) {
  return signed_request(core::Method::Refresh,
                        [&](core::StunWriter& w) { w.add_u32(core::attr::Lifetime, lifetime); });
}

bool TurnClient::send_channel_data(uint16_t channel, core::Bytes payload, std::string* error) {
  uint8_t buf[1500];
  if (payload.size() + 8 > sizeof buf) {
    *error = "payload too large";
    return false;
  }
  core::write_channel_data_header(buf, channel, uint16_t(payload.size()));
  std::memcpy(buf + core::kChannelDataHeaderSize, payload.data(), payload.size());
  size_t n = core::kChannelDataHeaderSize + payload.size();
  if (t_->kind() != Transport::Udp) {
    while (n % 4) buf[n++] = 0;  // RFC 8656 §12.5: padded over streams
  }
  return t_->send(core::Bytes(buf, n), Clock::now() + timeout_, error);
}

Received TurnClient::receive_channel_data(uint16_t* channel, std::vector<uint8_t>* payload,
                                          Clock::time_point deadline, std::string* error) {
  std::vector<uint8_t> in;
  for (;;) {
    const Received r = t_->receive(&in, deadline, error);
    if (r != Received::Message) return r;
    if (in.empty() || !core::looks_like_channel_data(in[0])) continue;
    auto cd = core::parse_channel_data(core::Bytes(in.data(), in.size()));
    if (!cd) continue;
    *channel = cd->channel;
    payload->assign(cd->payload.begin(), cd->payload.end());
    return Received::Message;
  }
}

}  // namespace turnpike::probe
