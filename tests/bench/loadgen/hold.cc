#include "loadgen/hold.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "core/attributes/error_code.h"
#include "core/random.h"
#include "core/stun_message.h"
#include "core/stun_writer.h"

namespace bench {

namespace core = turnpike::core;
namespace attr = core::attr;

namespace {

constexpr int64_t kRto = 500'000'000;  // ns
constexpr unsigned kMaxTries = 6;
constexpr uint32_t kLifetime = 600;  // s, RFC 8656 §3.2 default

struct Pending {
  bool active = false;
  int64_t deadline_ns = 0;
  unsigned tries = 0;
};

class Hold {
 public:
  Hold(std::vector<Session>& s, const Options& o, const std::string& realm)
      : sessions_(s), o_(o), realm_(realm), pending_(s.size()) {}

  HoldResult run(double hold_s, double refresh_s) {
    const int ep = epoll_create1(EPOLL_CLOEXEC);
    for (auto& s : sessions_) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u32 = s.index;
      epoll_ctl(ep, EPOLL_CTL_ADD, s.fd, &ev);
    }
    const int64_t start = now_ns();
    const int64_t end = start + int64_t(hold_s * 1e9);
    const int64_t interval = int64_t(refresh_s * 1e9);
    const size_t n = sessions_.size();
    // Session i's k-th refresh is due at start + (k + (i + 1) / n) * interval.
    uint64_t next_slot = 0;  // over all sessions: slot j = session j % n, round j / n
    std::array<epoll_event, 256> events;
    uint8_t buf[2048];
    std::vector<uint32_t> in_flight;
    while (now_ns() < end || !in_flight.empty()) {
      const int64_t now = now_ns();
      while (now < end && n) {
        const uint64_t round = next_slot / n, i = next_slot % n;
        const int64_t due = start + int64_t(round) * interval + int64_t((i + 1) * uint64_t(interval) / n);
        if (due > now || due >= end) break;
        if (now - due > interval / 10) ++r_.late;
        Session& s = sessions_[i];
        if (s.state == SetupState::Done && !pending_[i].active) {
          pending_[i] = Pending{true, 0, 0};
          core::random_bytes(s.txid, sizeof s.txid);
          send(s);
          in_flight.push_back(uint32_t(i));
        }
        ++next_slot;
      }
      const int got = epoll_wait(ep, events.data(), int(events.size()), 2);
      for (int k = 0; k < got; ++k) {
        Session& s = sessions_[events[k].data.u32];
        for (;;) {
          const ssize_t len = ::recv(s.fd, buf, sizeof buf, MSG_DONTWAIT);
          if (len <= 0) break;
          on_response(s, core::Bytes(buf, size_t(len)));
        }
      }
      const int64_t t = now_ns();
      for (size_t k = 0; k < in_flight.size();) {
        Pending& p = pending_[in_flight[k]];
        if (p.active && t >= p.deadline_ns) {
          if (p.tries >= kMaxTries) {
            ++r_.failed;
            p.active = false;
          } else {
            ++r_.retransmits;
            send(sessions_[in_flight[k]]);
          }
        }
        if (!p.active) {
          in_flight[k] = in_flight.back();
          in_flight.pop_back();
          continue;
        }
        ++k;
      }
    }
    ::close(ep);
    return r_;
  }

 private:
  void send(Session& s) {
    uint8_t buf[512];
    Pending& p = pending_[s.index];
    core::StunWriter w(core::MutableBytes(buf, sizeof buf), core::Method::Refresh,
                       core::MessageClass::Request, s.txid);
    w.add_u32(attr::Lifetime, kLifetime);
    if (!s.nonce.empty()) {
      w.add_text(attr::Username, s.username);
      w.add_text(attr::Realm, realm_);
      w.add_text(attr::Nonce, s.nonce);
      w.add_message_integrity(s.key.view());
    }
    ++p.tries;
    p.deadline_ns = now_ns() + kRto * (1 << std::min(p.tries - 1, 3u));
    (void)::send(s.fd, buf, w.size(), MSG_DONTWAIT);
  }

  void on_response(Session& s, core::Bytes data) {
    Pending& p = pending_[s.index];
    auto m = core::StunMessage::parse(data);
    if (!p.active || !m || std::memcmp(m->transaction_id(), s.txid, 12) != 0) return;
    if (m->message_class() == core::MessageClass::Error) {
      const auto ec = m->find(attr::ErrorCode);
      const auto code = ec ? core::decode_error_code(m->value(*ec)) : std::nullopt;
      const auto nonce = m->find(attr::Nonce);
      if (code && code->code == core::error::StaleNonce && nonce && p.tries < kMaxTries) {
        ++r_.stale_nonce;
        s.nonce = std::string(m->text(*nonce));
        core::random_bytes(s.txid, sizeof s.txid);
        send(s);
        return;
      }
      ++r_.failed;
      p.active = false;
      return;
    }
    if (m->message_class() == core::MessageClass::Success) {
      ++r_.refreshes;
      p.active = false;
    }
  }

  std::vector<Session>& sessions_;
  const Options& o_;
  const std::string& realm_;
  std::vector<Pending> pending_;
  HoldResult r_;
};

}  // namespace

HoldResult run_hold(std::vector<Session>& sessions, const Options& o, const std::string& realm,
                    double hold_s, double refresh_s) {
  return Hold(sessions, o, realm).run(hold_s, refresh_s);
}

}  // namespace bench
