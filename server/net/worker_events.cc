#include "net/worker_events.h"

#include <array>
#include <cstdio>
#include <optional>
#include <string_view>

#include "net/log.h"
#include "relay/allocation.h"

namespace turnpike::net {
namespace {

std::string session_id(uint64_t id) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(id));
  return buf;
}

// Refusals only answer requests, so Data and ConnectionAttempt never reach this.
const char* refused_method(core::Method m) {
  const char* name = core::method_name(m);
  return name ? name : "request";
}

std::string relayed(const relay::Allocation& a) {
  std::string s;
  for (uint8_t i = 0; i < a.relay_count; ++i) {
    if (i) s += ",";
    s += a.relays[i].announced.to_string();
    if (a.relays[i].announced != a.relays[i].bound)
      s += " (bound " + a.relays[i].bound.to_string() + ")";
  }
  return s;
}

}  // namespace

void WorkerEvents::session_started(const relay::Allocation& a, const relay::Now& now) {
  log(LogLevel::Notice, "session ", session_id(a.id), " allocated: user=<", a.username, "> realm=<",
      realm_, "> ", relay::transport_name(a.five_tuple.transport),
      " client=", a.five_tuple.client.to_string(), " relayed=", relayed(a),
      " lifetime=", a.lifetime_s, "s", a.tcp ? " (TCP relay, RFC 6062)" : "");
  if (next_) next_->session_started(a, now);
}

void WorkerEvents::session_refreshed(const relay::Allocation& a, uint32_t lifetime_s,
                                     const relay::Now& now) {
  log(LogLevel::Info, "session ", session_id(a.id), " refreshed: lifetime=", lifetime_s, "s");
  if (next_) next_->session_refreshed(a, lifetime_s, now);
}

void WorkerEvents::permission_installed(const relay::Allocation& a, const relay::IpAddress& peer,
                                        const relay::Now& now) {
  log(LogLevel::Info, "session ", session_id(a.id), " permission for ", peer.to_string());
  if (next_) next_->permission_installed(a, peer, now);
}

void WorkerEvents::channel_bound(const relay::Allocation& a, uint16_t channel,
                                 const relay::SocketAddress& peer, const relay::Now& now) {
  char ch[8];
  std::snprintf(ch, sizeof ch, "0x%04x", channel);
  log(LogLevel::Info, "session ", session_id(a.id), " channel ", ch, " bound to ",
      peer.to_string());
  if (next_) next_->channel_bound(a, channel, peer, now);
}

void WorkerEvents::session_ended(const relay::Allocation& a, relay::EndReason why,
                                 const relay::Now& now) {
  log(LogLevel::Notice, "session ", session_id(a.id), " closed (", relay::end_reason_name(why),
      "): user=<", a.username, "> after ", (now.unix_ms - a.started_unix_ms) / 1000,
      "s; client->peers ", a.from_client.packets, " pkts/", a.from_client.bytes,
      " B, peers->client ", a.to_client.packets, " pkts/", a.to_client.bytes, " B, dropped ",
      a.dropped);
  if (next_) next_->session_ended(a, why, now);
}

bool WorkerEvents::take(Budget& b, int64_t now_ms) {
  if (now_ms - b.window_start_ms >= 1000) {
    if (b.suppressed) {
      log(LogLevel::Notice, b.suppressed, " more ", b.what,
          " in the last second were not logged");
      b.suppressed = 0;
    }
    b.window_start_ms = now_ms;
    b.lines = 0;
  }
  if (b.lines >= 20) {
    ++b.suppressed;
    return false;
  }
  ++b.lines;
  return true;
}

void WorkerEvents::refused(const relay::Refusal& r) {
  // A credential holder's refusal has a budget of its own: strangers' noise cannot use it up.
  Budget& budget = relay::is_credential_holder_refusal(r.reason) ? holders_ : strangers_;
  if (take(budget, r.now.mono_ms)) {
    std::string code = r.code ? std::to_string(r.code) + " " : std::string("dropped, ");
    std::string peer =
        r.peer ? " peer " + (r.peer->port() ? r.peer->to_string() : r.peer->ip().to_string())
               : std::string();
    log(LogLevel::Notice, "refused ", refused_method(r.method), " from ",
        r.five_tuple.client.to_string(), " (", relay::transport_name(r.five_tuple.transport),
        ") user=<", r.username, ">: ", code, relay::refusal_reason_name(r.reason), peer,
        r.detail.empty() ? "" : ": ", r.detail);
  }
  if (next_) next_->refused(r);
}

}  // namespace turnpike::net
