#include "net/control_commands.h"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "core/rest_credentials.h"
#include "net/clock.h"
#include "relay/allocation.h"
#include "relay/events.h"

namespace turnpike::net {
namespace {

std::string session_hex(uint64_t id) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(id));
  return buf;
}

std::string seconds(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

// Who `disconnect` ends: every given criterion must match (at least one is given).
struct Pick {
  std::optional<std::string> user;
  std::optional<std::string> session;  // as the log and the ledger write it (16 hex digits)
  std::optional<core::IpAddress> client_ip;
  std::optional<uint16_t> client_port;  // with client=ADDRESS:PORT
  char separator = ':';

  bool operator()(const relay::Allocation& a) const {
    if (user && a.username != *user && core::rest_user_key(a.username, separator) != *user)
      return false;
    if (session && session_hex(a.id) != *session) return false;
    if (client_ip && a.five_tuple.client.ip() != *client_ip) return false;
    if (client_port && a.five_tuple.client.port() != *client_port) return false;
    return true;
  }
};

}  // namespace

core::ControlMessage ControlCommands::status(const MetricsReport& r) {
  const MetricsSnapshot& s = r.sum;
  core::ControlMessage m = core::ControlMessage::ok();
  m.add("version", r.version);
  m.add("uptime_seconds", seconds(r.uptime_seconds));
  m.add("draining", uint64_t(r.draining ? 1 : 0));
  uint64_t total = 0;
  for (size_t t = 0; t < kTransports; ++t) {
    for (size_t f = 0; f < kFamilies; ++f) total += s.allocations_now[t][f];
  }
  m.add("allocations", total);
  for (size_t t = 0; t < kTransports; ++t) {
    const std::string tn = relay::transport_name(relay::Transport(t));
    for (size_t f = 0; f < kFamilies; ++f) {
      if (s.allocations_now[t][f])
        m.add("allocations." + tn + "." + family_label(f), s.allocations_now[t][f]);
    }
  }
  for (size_t t = 0; t < kTransports; ++t) {
    const std::string tn = relay::transport_name(relay::Transport(t));
    m.add("started." + tn, s.allocations_started[t]);
    m.add("relayed_bytes.to_peer." + tn, s.to_peer[t].bytes);
    m.add("relayed_bytes.to_client." + tn, s.to_client[t].bytes);
    m.add("relayed_packets.to_peer." + tn, s.to_peer[t].packets);
    m.add("relayed_packets.to_client." + tn, s.to_client[t].packets);
  }
  for (size_t i = 0; i < kMaxReasons; ++i) {
    const char* n = relay::end_reason_name(relay::EndReason(i));
    if (s.allocations_ended[i]) m.add(std::string("ended.") + n, s.allocations_ended[i]);
  }
  for (size_t i = 0; i < kMaxReasons; ++i) {
    const char* n = relay::refusal_reason_name(relay::RefusalReason(i));
    if (s.refusals[i]) m.add(std::string("refused.") + n, s.refusals[i]);
  }
  m.add("dropped.no_permission", s.dropped_no_permission);
  m.add("workers", uint64_t(r.workers));
  m.add("workers_answered", uint64_t(s.workers.size()));
  for (const auto& w : s.workers) {
    m.add("worker." + std::to_string(w.index) + ".allocations", w.allocations);
    m.add("worker." + std::to_string(w.index) + ".cpu_seconds", seconds(w.cpu_seconds));
  }
  if (r.ledger) {
    m.add("ledger.ok", uint64_t(r.ledger->database_ok && !r.ledger->damaged ? 1 : 0));
    m.add("ledger.queue_depth", uint64_t(r.ledger->pending));
    m.add("ledger.written", r.ledger->written);
    m.add("ledger.dropped", r.ledger->dropped);
  }
  if (r.credentials_issued) m.add("credentials_issued", *r.credentials_issued);
  if (r.certificate_not_after) m.add("certificate_not_after", uint64_t(*r.certificate_not_after));
  m.add("kernel_offload", uint64_t(r.kernel_offload ? 1 : 0));
  return m;
}

core::ControlMessage ControlCommands::disconnect(const core::ControlMessage& req) {
  Pick pick;
  pick.separator = o_.separator;
  if (const std::string* u = req.get("user")) pick.user = *u;
  if (const std::string* s = req.get("session")) {
    std::string id = *s;
    for (auto& c : id) c = char(std::tolower(static_cast<unsigned char>(c)));
    if (id.size() < 16) id = std::string(16 - id.size(), '0') + id;
    pick.session = id;
  }
  if (const std::string* c = req.get("client")) {
    if (auto sa = core::SocketAddress::parse(*c)) {
      pick.client_ip = sa->ip();
      pick.client_port = sa->port();
    } else if (auto ip = core::IpAddress::parse(*c)) {
      pick.client_ip = *ip;
    } else {
      return core::ControlMessage::failure("--client '" + *c +
                                           "' is not an address (write 192.0.2.1, "
                                           "192.0.2.1:5000 or [2001:db8::1]:5000)");
    }
  }
  if (!pick.user && !pick.session && !pick.client_ip) {
    return core::ControlMessage::failure("say whom: --user U, --session ID or --client ADDRESS");
  }
  struct Gather {
    std::mutex mu;
    std::condition_variable cv;
    uint64_t ended = 0;
    size_t answered = 0;
  };
  auto g = std::make_shared<Gather>();
  RelayService& service = *o_.service;
  for (size_t i = 0; i < service.worker_count(); ++i) {
    service.worker(i).post([g, pick](Worker& w) {
      const size_t n = w.server().end_allocations(pick, relay::EndReason::Disconnected, now());
      std::lock_guard<std::mutex> lock(g->mu);
      g->ended += n;
      ++g->answered;
      g->cv.notify_one();
    });
  }
  std::unique_lock<std::mutex> lock(g->mu);
  const size_t workers = service.worker_count();
  if (!g->cv.wait_for(lock, std::chrono::seconds(5), [&] { return g->answered == workers; })) {
    return core::ControlMessage::failure(std::to_string(workers - g->answered) +
                                         " worker(s) did not answer within 5 s; " +
                                         std::to_string(g->ended) + " allocation(s) ended so far");
  }
  return core::ControlMessage::ok().add("ended", g->ended);
}

core::ControlMessage ControlCommands::handle(const core::ControlMessage& req) {
  const std::string& command = *req.get("command");
  if (command == "status") return status(o_.metrics->report());
  if (command == "disconnect") return disconnect(req);
  if (command == "drain" && o_.drain) return core::ControlMessage::ok().add("message", o_.drain());
  if (auto it = extra_.find(command); it != extra_.end()) return it->second(req);
  std::string known = "status, disconnect";
  if (o_.drain) known += ", drain";
  for (const auto& [name, _] : extra_) known += ", " + name;
  return core::ControlMessage::failure("unknown command '" + command + "' (this turnpike knows " +
                                       known + ")");
}

}  // namespace turnpike::net
