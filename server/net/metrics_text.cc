#include "net/metrics_text.h"

#include <cmath>
#include <cstdio>
#include <string_view>
#include <utility>

#include "relay/events.h"
#include "relay/types.h"

namespace turnpike::net {
namespace {

class Writer {
 public:
  explicit Writer(bool om) : om_(om) {}

  // A family: `name` without _total; counters get it appended to their samples.
  void family(std::string_view name, std::string_view type, std::string_view help) {
    const bool counter = type == "counter";
    std::string fam(name);
    if (counter && !om_) fam += "_total";
    out_ += "# HELP " + fam + " " + std::string(help) + "\n";
    out_ += "# TYPE " + fam + " " + std::string(type) + "\n";
    name_ = std::string(name);
    suffix_ = counter ? "_total" : "";
  }
  // One sample of the current family; `labels` already formatted (label="value",...) or "".
  void sample(const std::string& labels, double v) { sample_named(name_ + suffix_, labels, v); }
  void sample(const std::string& labels, uint64_t v) {
    out_ += name_ + suffix_ + (labels.empty() ? "" : "{" + labels + "}") + " " + std::to_string(v) +
            "\n";
  }
  void sample_named(const std::string& full, const std::string& labels, double v) {
    char buf[64];
    if (std::isinf(v)) {
      std::snprintf(buf, sizeof buf, "%s", v > 0 ? "+Inf" : "-Inf");
    } else if (v == std::floor(v) && std::fabs(v) < 1e15) {
      std::snprintf(buf, sizeof buf, "%.1f", v);
    } else {
      std::snprintf(buf, sizeof buf, "%.17g", v);
    }
    out_ += full + (labels.empty() ? "" : "{" + labels + "}") + " " + buf + "\n";
  }
  void histogram(const Histogram& h) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i < h.size; ++i) {
      cumulative += h.counts[i];
      char le[32];
      std::snprintf(le, sizeof le, "%.1f", h.bounds[i]);
      out_ += name_ + "_bucket{le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
    }
    out_ += name_ + "_bucket{le=\"+Inf\"} " + std::to_string(h.count) + "\n";
    sample_named(name_ + "_sum", "", h.sum);
    out_ += name_ + "_count " + std::to_string(h.count) + "\n";
  }
  std::string finish() {
    if (om_) out_ += "# EOF\n";
    return std::move(out_);
  }

 private:
  bool om_;
  std::string out_;
  std::string name_, suffix_;
};

// OpenMetrics label values: backslash, double quote and line feed escaped.
std::string label(std::string_view k, std::string_view v) {
  std::string s(k);
  s += "=\"";
  for (char c : v) {
    if (c == '\\')
      s += "\\\\";
    else if (c == '"')
      s += "\\\"";
    else if (c == '\n')
      s += "\\n";
    else
      s += c;
  }
  return s + "\"";
}

const char* transport(size_t t) {
  return relay::transport_name(relay::Transport(t));
}

bool named(const char* n) {
  return n && std::string_view(n) != "?";
}

}  // namespace

std::string render_metrics(const MetricsReport& r, bool openmetrics) {
  const MetricsSnapshot& s = r.sum;
  Writer w(openmetrics);

  w.family("turnpike_build_info", "gauge", "The running build: its version (always 1).");
  w.sample(label("version", r.version), uint64_t(1));
  w.family("turnpike_start_time_seconds", "gauge", "When the process started (Unix time).");
  w.sample("", r.start_time_unix);
  w.family("turnpike_uptime_seconds", "gauge", "Seconds since the process started.");
  w.sample("", r.uptime_seconds);
  w.family("turnpike_draining", "gauge", "1 while draining: new allocations are refused.");
  w.sample("", uint64_t(r.draining ? 1 : 0));

  w.family("turnpike_allocations", "gauge",
           "Allocations now, by client transport and relayed address family.");
  for (size_t t = 0; t < kTransports; ++t) {
    for (size_t f = 0; f < kFamilies; ++f) {
      w.sample(label("transport", transport(t)) + "," + label("family", family_label(f)),
               s.allocations_now[t][f]);
    }
  }
  w.family("turnpike_allocations_started", "counter", "Allocations made, by client transport.");
  for (size_t t = 0; t < kTransports; ++t)
    w.sample(label("transport", transport(t)), s.allocations_started[t]);
  w.family("turnpike_allocations_ended", "counter", "Allocations ended, by end reason.");
  for (size_t i = 0; i < kMaxReasons; ++i) {
    const char* n = relay::end_reason_name(relay::EndReason(i));
    if (named(n)) w.sample(label("reason", n), s.allocations_ended[i]);
  }
  w.family("turnpike_refusals", "counter",
           "Requests refused (answered with an error or dropped), by reason.");
  for (size_t i = 0; i < kMaxReasons; ++i) {
    const char* n = relay::refusal_reason_name(relay::RefusalReason(i));
    if (named(n)) w.sample(label("reason", n), s.refusals[i]);
  }

  w.family("turnpike_relayed_bytes", "counter",
           "Payload bytes relayed (user space and kernel fast path), by direction and client "
           "transport; live sessions included.");
  for (size_t t = 0; t < kTransports; ++t) {
    w.sample(label("direction", "to_peer") + "," + label("transport", transport(t)),
             s.to_peer[t].bytes);
    w.sample(label("direction", "to_client") + "," + label("transport", transport(t)),
             s.to_client[t].bytes);
  }
  w.family("turnpike_relayed_packets", "counter",
           "Datagrams (or TCP reads, RFC 6062) relayed, by direction and client transport.");
  for (size_t t = 0; t < kTransports; ++t) {
    w.sample(label("direction", "to_peer") + "," + label("transport", transport(t)),
             s.to_peer[t].packets);
    w.sample(label("direction", "to_client") + "," + label("transport", transport(t)),
             s.to_client[t].packets);
  }
  w.family(
      "turnpike_dropped_packets", "counter",
      "Packets not relayed, by reason (no_permission: no permission or channel for the peer).");
  w.sample(label("reason", "no_permission"), s.dropped_no_permission);
  w.family("turnpike_malformed_packets", "counter", "Datagrams dropped before they parsed.");
  w.sample("", s.malformed);
  w.family("turnpike_unauthenticated_rate_limited", "counter",
           "Unauthenticated requests dropped by the per-source rate limit.");
  w.sample("", s.unauth_rate_limited);

  w.family("turnpike_session_duration_seconds", "histogram",
           "Duration of the sessions that ended.");
  w.histogram(s.duration);
  w.family("turnpike_session_bytes", "histogram",
           "Bytes relayed per session (both ways), of the sessions that ended.");
  w.histogram(s.bytes);

  w.family("turnpike_workers", "gauge", "Relay worker threads.");
  w.sample("", uint64_t(r.workers));
  w.family("turnpike_workers_answered", "gauge",
           "Workers that answered this scrape in time (less than turnpike_workers: one is stuck).");
  w.sample("", uint64_t(s.workers.size()));
  w.family("turnpike_worker_allocations", "gauge", "Allocations now, per worker thread.");
  for (const auto& k : s.workers) w.sample(label("worker", std::to_string(k.index)), k.allocations);
  w.family("turnpike_worker_cpu_seconds", "counter", "CPU time used, per worker thread.");
  for (const auto& k : s.workers) w.sample(label("worker", std::to_string(k.index)), k.cpu_seconds);
  w.family("turnpike_kernel_offload", "gauge", "1 when the kernel fast path is loaded.");
  w.sample("", uint64_t(r.kernel_offload ? 1 : 0));

  if (r.ledger) {
    const ledger::WriterStats& l = *r.ledger;
    w.family("turnpike_ledger_ok", "gauge", "1 while the ledger database is being written.");
    w.sample("", uint64_t(l.database_ok && !l.damaged ? 1 : 0));
    w.family("turnpike_ledger_queue_depth", "gauge", "Ledger events waiting to be written.");
    w.sample("", uint64_t(l.pending));
    w.family("turnpike_ledger_queue_bytes", "gauge",
             "Bytes of ledger events waiting to be written.");
    w.sample("", uint64_t(l.pending_bytes));
    w.family("turnpike_ledger_events_written", "counter", "Ledger events written.");
    w.sample("", l.written);
    w.family("turnpike_ledger_events_dropped", "counter", "Ledger events lost, by kind.");
    for (size_t k = 0; k < ledger::kEventKinds; ++k) {
      w.sample(label("kind", ledger::event_kind_name(ledger::EventKind(k))), l.dropped_by_kind[k]);
    }
  }
  if (r.credentials_issued) {
    w.family("turnpike_credentials_issued", "counter",
             "Credentials the XMPP server's key desk recorded in this relay's ledger.");
    w.sample("", *r.credentials_issued);
  }
  if (r.certificate_not_after) {
    w.family("turnpike_tls_certificate_expiry_timestamp_seconds", "gauge",
             "When the TLS certificate expires (Unix time).");
    w.sample("", double(*r.certificate_not_after));
  }
  return w.finish();
}

}  // namespace turnpike::net
