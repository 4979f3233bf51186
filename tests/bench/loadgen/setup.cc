#include "loadgen/setup.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "core/attributes/error_code.h"
#include "core/attributes/xor_address.h"
#include "core/random.h"
#include "core/rest_credentials.h"
#include "core/stun_message.h"
#include "core/stun_writer.h"

namespace bench {

namespace core = turnpike::core;
namespace attr = core::attr;

namespace {

constexpr int64_t kRto = 300'000'000;  // ns; loopback answers in well under a millisecond
constexpr unsigned kMaxTries = 8;

class Setup {
 public:
  Setup(std::vector<Session>& s, const Options& o) : sessions_(s), o_(o) {}

  SetupResult run() {
    const int ep = epoll_create1(EPOLL_CLOEXEC);
    for (auto& s : sessions_) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u32 = s.index;
      epoll_ctl(ep, EPOLL_CTL_ADD, s.fd, &ev);
    }
    const int64_t start = now_ns();
    const int64_t expiry = time(nullptr) + 86400;
    size_t next = 0;
    unsigned active = 0;
    std::vector<uint32_t> in_flight;
    std::array<epoll_event, 256> events;
    uint8_t buf[2048];
    while (next < sessions_.size() || active > 0) {
      while (active < o_.concurrency && next < sessions_.size()) {
        Session& s = sessions_[next++];
        s.username = std::to_string(expiry) + ":" + o_.user + "-" + std::to_string(s.index);
        if (!o_.secret.empty()) s.password = core::rest_password(o_.secret, s.username);
        s.state = SetupState::Allocate;
        new_request(s);
        in_flight.push_back(s.index);
        ++active;
      }
      const int n = epoll_wait(ep, events.data(), int(events.size()), 10);
      for (int i = 0; i < n; ++i) {
        Session& s = sessions_[events[i].data.u32];
        for (;;) {
          const ssize_t len = ::recv(s.fd, buf, sizeof buf, MSG_DONTWAIT);
          if (len <= 0) break;
          on_response(s, core::Bytes(buf, size_t(len)));
        }
      }
      // Retransmissions, and retiring finished sessions.
      const int64_t now = now_ns();
      for (size_t k = 0; k < in_flight.size();) {
        Session& s = sessions_[in_flight[k]];
        if (s.state == SetupState::Done || s.state == SetupState::Failed) {
          if (s.state == SetupState::Done)
            ++r_.done;
          else {
            ++r_.failed;
            ++r_.errors[s.last_error];
          }
          in_flight[k] = in_flight.back();
          in_flight.pop_back();
          --active;
          continue;
        }
        if (now >= s.deadline_ns) {
          if (s.tries >= kMaxTries) {
            s.state = SetupState::Failed;
            s.last_error = 0;
            continue;  // retired on the next pass
          }
          ++r_.retransmits;
          send(s);
        }
        ++k;
      }
    }
    r_.elapsed_ns = now_ns() - start;
    ::close(ep);
    return r_;
  }

 private:
  void new_request(Session& s) {
    core::random_bytes(s.txid, sizeof s.txid);
    s.tries = 0;
    send(s);
  }

  void send(Session& s) {
    uint8_t buf[512];
    core::Method m = core::Method::Allocate;
    if (s.state == SetupState::CreatePermission) m = core::Method::CreatePermission;
    if (s.state == SetupState::ChannelBind) m = core::Method::ChannelBind;
    core::StunWriter w(core::MutableBytes(buf, sizeof buf), m, core::MessageClass::Request, s.txid);
    if (m == core::Method::Allocate) {
      const uint8_t udp[4] = {core::kProtocolUdp, 0, 0, 0};  // RFC 8656 §18.8
      w.add(attr::RequestedTransport, core::Bytes(udp, 4));
    } else {
      if (m == core::Method::ChannelBind) w.add_u32(attr::ChannelNumber, uint32_t(s.channel) << 16);
      w.add_xor_address(attr::XorPeerAddress, s.peer);
    }
    if (!s.nonce.empty()) {
      w.add_text(attr::Username, s.username);
      w.add_text(attr::Realm, r_.realm);
      w.add_text(attr::Nonce, s.nonce);
      w.add_message_integrity(s.key.view());
    }
    ++s.tries;
    ++r_.requests;
    s.deadline_ns = now_ns() + kRto * (1 << std::min(s.tries - 1, 3u));
    (void)::send(s.fd, buf, w.size(), MSG_DONTWAIT);
  }

  void on_response(Session& s, core::Bytes data) {
    auto m = core::StunMessage::parse(data);
    if (!m || std::memcmp(m->transaction_id(), s.txid, 12) != 0) return;  // stale or not STUN
    if (s.state != SetupState::Allocate && s.state != SetupState::CreatePermission &&
        s.state != SetupState::ChannelBind) {
      return;
    }
    if (m->message_class() == core::MessageClass::Error) {
      const auto ec = m->find(attr::ErrorCode);
      const auto code = ec ? core::decode_error_code(m->value(*ec)) : std::nullopt;
      const uint16_t c = code ? code->code : 0;
      const auto realm = m->find(attr::Realm);
      const auto nonce = m->find(attr::Nonce);
      // 401 to the unsigned first Allocate, or 438 Stale Nonce to anything: sign and retry.
      if (((c == core::error::Unauthorized && s.nonce.empty()) || c == core::error::StaleNonce) &&
          realm && nonce && !o_.secret.empty() && s.tries < kMaxTries) {
        if (r_.realm.empty()) r_.realm = std::string(m->text(*realm));
        if (s.nonce.empty()) {
          s.key = core::long_term_key(core::HashAlgorithm::Md5, s.username, r_.realm, s.password);
        }
        s.nonce = std::string(m->text(*nonce));
        new_request(s);
        return;
      }
      s.last_error = c ? c : 1;
      s.state = SetupState::Failed;
      return;
    }
    if (m->message_class() != core::MessageClass::Success) return;
    switch (s.state) {
      case SetupState::Allocate: {
        if (auto ra = m->find(attr::XorRelayedAddress)) {
          if (auto a = core::decode_xor_address(m->value(*ra), m->bytes().data())) s.relayed = *a;
        }
        s.state = SetupState::CreatePermission;
        new_request(s);
        break;
      }
      case SetupState::CreatePermission:
        s.state = SetupState::ChannelBind;
        new_request(s);
        break;
      case SetupState::ChannelBind:
        s.state = SetupState::Done;
        break;
      default:
        break;
    }
  }

  std::vector<Session>& sessions_;
  const Options& o_;
  SetupResult r_;
};

}  // namespace

SetupResult run_setup(std::vector<Session>& sessions, const Options& o) {
  return Setup(sessions, o).run();
}

UnauthResult run_unauth(std::vector<Session>& sessions, double wait_s) {
  UnauthResult r;
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  uint8_t buf[512];
  for (auto& s : sessions) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = s.index;
    epoll_ctl(ep, EPOLL_CTL_ADD, s.fd, &ev);
    core::random_bytes(s.txid, sizeof s.txid);
    core::StunWriter w(core::MutableBytes(buf, sizeof buf), core::Method::Allocate,
                       core::MessageClass::Request, s.txid);
    const uint8_t udp[4] = {core::kProtocolUdp, 0, 0, 0};
    w.add(attr::RequestedTransport, core::Bytes(udp, 4));
    if (::send(s.fd, buf, w.size(), MSG_DONTWAIT) > 0) ++r.sent;
  }
  const int64_t deadline = now_ns() + int64_t(wait_s * 1e9);
  std::array<epoll_event, 256> events;
  while (now_ns() < deadline && r.answered < r.sent) {
    const int n = epoll_wait(ep, events.data(), int(events.size()), 20);
    for (int i = 0; i < n; ++i) {
      Session& s = sessions[events[i].data.u32];
      for (;;) {
        const ssize_t len = ::recv(s.fd, buf, sizeof buf, MSG_DONTWAIT);
        if (len <= 0) break;
        auto m = core::StunMessage::parse(core::Bytes(buf, size_t(len)));
        if (!m) continue;
        ++r.answered;
        uint16_t code = 200;
        if (m->message_class() == core::MessageClass::Error) {
          const auto ec = m->find(attr::ErrorCode);
          const auto v = ec ? core::decode_error_code(m->value(*ec)) : std::nullopt;
          code = v ? v->code : 0;
        }
        ++r.codes[code];
      }
    }
  }
  ::close(ep);
  return r;
}

}  // namespace bench
