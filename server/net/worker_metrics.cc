#include "net/worker_metrics.h"

#include <time.h>

#include "relay/server.h"

namespace turnpike::net {
namespace {

constexpr double kDurationBounds[] = {1, 10, 30, 60, 300, 600, 1800, 3600, 7200, 14400, 28800};
constexpr double kBytesBounds[] = {1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10};

Histogram make(const double* b, size_t n) {
  Histogram h;
  h.bounds = b;
  h.size = n;
  return h;
}

size_t transport_index(relay::Transport t) {
  return size_t(t) < kTransports ? size_t(t) : 0;
}

size_t reason_index(uint8_t r) {
  return r < kMaxReasons ? r : kMaxReasons - 1;
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

}  // namespace

const char* family_label(size_t f) {
  return f == 0 ? "ipv4" : f == 1 ? "ipv6" : "dual";
}

size_t allocation_family(const relay::Allocation& a) {
  if (a.relay_count >= 2) return 2;
  if (a.relay_count == 1 && a.relays[0].bound.family() == relay::Family::V6) return 1;
  return 0;
}

void Histogram::observe(double v) {
  ++count;
  sum += v;
  for (size_t i = 0; i < size; ++i) {
    if (v <= bounds[i]) {
      ++counts[i];
      return;
    }
  }
  ++overflow;
}

void Histogram::add(const Histogram& o) {
  for (size_t i = 0; i < size && i < o.size; ++i) counts[i] += o.counts[i];
  overflow += o.overflow;
  count += o.count;
  sum += o.sum;
}

const Histogram& duration_buckets() {
  static const Histogram h = make(kDurationBounds, std::size(kDurationBounds));
  return h;
}

const Histogram& bytes_buckets() {
  static const Histogram h = make(kBytesBounds, std::size(kBytesBounds));
  return h;
}

void MetricsSnapshot::add(const MetricsSnapshot& o) {
  for (size_t t = 0; t < kTransports; ++t) {
    for (size_t f = 0; f < kFamilies; ++f) allocations_now[t][f] += o.allocations_now[t][f];
    allocations_started[t] += o.allocations_started[t];
    to_peer[t].add(o.to_peer[t]);
    to_client[t].add(o.to_client[t]);
  }
  for (size_t r = 0; r < kMaxReasons; ++r) {
    allocations_ended[r] += o.allocations_ended[r];
    refusals[r] += o.refusals[r];
  }
  dropped_no_permission += o.dropped_no_permission;
  malformed += o.malformed;
  unauth_rate_limited += o.unauth_rate_limited;
  duration.add(o.duration);
  bytes.add(o.bytes);
  workers.insert(workers.end(), o.workers.begin(), o.workers.end());
}

void WorkerMetrics::session_started(const relay::Allocation& a, const relay::Now& now) {
  ++ended_.allocations_started[transport_index(a.five_tuple.transport)];
  if (next_) next_->session_started(a, now);
}

void WorkerMetrics::session_refreshed(const relay::Allocation& a, uint32_t lifetime_s,
                                      const relay::Now& now) {
  if (next_) next_->session_refreshed(a, lifetime_s, now);
}

void WorkerMetrics::permission_installed(const relay::Allocation& a, const relay::IpAddress& peer,
                                         const relay::Now& now) {
  if (next_) next_->permission_installed(a, peer, now);
}

void WorkerMetrics::channel_bound(const relay::Allocation& a, uint16_t channel,
                                  const relay::SocketAddress& peer, const relay::Now& now) {
  if (next_) next_->channel_bound(a, channel, peer, now);
}

void WorkerMetrics::session_ended(const relay::Allocation& a, relay::EndReason why,
                                  const relay::Now& now) {
  // The allocation's counters are final here (what the kernel relayed is already folded in).
  const size_t t = transport_index(a.five_tuple.transport);
  ++ended_.allocations_ended[reason_index(uint8_t(why))];
  ended_.to_peer[t].add(a.from_client);
  ended_.to_client[t].add(a.to_client);
  ended_.dropped_no_permission += a.dropped;
  const int64_t ms = now.unix_ms - a.started_unix_ms;
  ended_.duration.observe(ms > 0 ? double(ms) / 1000.0 : 0.0);
  ended_.bytes.observe(double(a.from_client.bytes + a.to_client.bytes));
  if (next_) next_->session_ended(a, why, now);
}

void WorkerMetrics::refused(const relay::Refusal& r) {
  ++ended_.refusals[reason_index(uint8_t(r.reason))];
  if (next_) next_->refused(r);
}

void WorkerMetrics::snapshot(relay::Server& server, unsigned worker_index,
                             MetricsSnapshot* out) const {
  *out = ended_;
  out->workers.clear();
  server.collect_offloaded();
  server.for_each_allocation([&](const relay::Allocation& a) {
    const size_t t = transport_index(a.five_tuple.transport);
    ++out->allocations_now[t][allocation_family(a)];
    out->to_peer[t].add(a.from_client);
    out->to_client[t].add(a.to_client);
    out->dropped_no_permission += a.dropped;
  });
  out->malformed = server.stats().malformed;
  out->unauth_rate_limited = server.stats().unauth_rate_limited;
  out->workers.push_back({worker_index, server.allocation_count(), thread_cpu_seconds()});
}

}  // namespace turnpike::net
