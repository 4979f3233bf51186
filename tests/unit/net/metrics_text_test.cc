// The /metrics text (net/metrics_text.h) and the worker's event counters (net/worker_metrics.h):
// histogram buckets are cumulative and end with +Inf equal to _count, counters are named with
// _total in samples (and in # TYPE only in the 0.0.4 format), OpenMetrics ends with # EOF, end
// and refusal reasons are counted by name, and snapshots add up.
#include <gtest/gtest.h>

#include <string>

#include "net/metrics_text.h"
#include "net/worker_metrics.h"

namespace turnpike::net {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

TEST(Histogram, BucketsAreInclusiveAndOverflowGoesToInf) {
  Histogram h = duration_buckets();
  h.observe(0.5);
  h.observe(1);  // le="1.0" is inclusive
  h.observe(1.5);
  h.observe(1e9);  // beyond the last bound
  EXPECT_EQ(h.counts[0], 2u);
  EXPECT_EQ(h.counts[1], 1u);
  EXPECT_EQ(h.overflow, 1u);
  EXPECT_EQ(h.count, 4u);
  EXPECT_DOUBLE_EQ(h.sum, 0.5 + 1 + 1.5 + 1e9);
}

TEST(MetricsText, OpenMetricsAndPrometheusText) {
  MetricsReport r;
  r.version = "1.2.3";
  r.workers = 2;
  r.sum.allocations_started[size_t(relay::Transport::Tls)] = 7;
  r.sum.to_peer[size_t(relay::Transport::Udp)] = {1000, 10};
  r.sum.allocations_ended[size_t(relay::EndReason::Expired)] = 3;
  r.sum.refusals[size_t(relay::RefusalReason::Quota)] = 5;
  r.sum.bytes.observe(5000);
  r.sum.bytes.observe(50000);
  r.sum.workers.push_back({0, 4, 1.5});
  const std::string om = render_metrics(r, true);
  EXPECT_TRUE(om.size() > 6 && om.substr(om.size() - 6) == "# EOF\n");
  EXPECT_TRUE(has_line(om, "# TYPE turnpike_allocations_started counter"));
  EXPECT_TRUE(has_line(om, "turnpike_allocations_started_total{transport=\"tls\"} 7"));
  EXPECT_TRUE(
      has_line(om, "turnpike_relayed_bytes_total{direction=\"to_peer\",transport=\"udp\"} 1000"));
  EXPECT_TRUE(
      has_line(om, "turnpike_relayed_packets_total{direction=\"to_peer\",transport=\"udp\"} 10"));
  EXPECT_TRUE(has_line(om, "turnpike_allocations_ended_total{reason=\"expired\"} 3"));
  EXPECT_TRUE(has_line(om, "turnpike_refusals_total{reason=\"quota\"} 5"));
  EXPECT_TRUE(has_line(om, "turnpike_build_info{version=\"1.2.3\"} 1"));
  EXPECT_TRUE(has_line(om, "turnpike_session_bytes_bucket{le=\"1000.0\"} 0"));
  EXPECT_TRUE(has_line(om, "turnpike_session_bytes_bucket{le=\"10000.0\"} 1"));
  EXPECT_TRUE(has_line(om, "turnpike_session_bytes_bucket{le=\"100000.0\"} 2"));
  EXPECT_TRUE(has_line(om, "turnpike_session_bytes_bucket{le=\"+Inf\"} 2"));
  EXPECT_TRUE(has_line(om, "turnpike_session_bytes_count 2"));
  EXPECT_TRUE(has_line(om, "turnpike_workers 2"));
  EXPECT_TRUE(has_line(om, "turnpike_workers_answered 1"));
  EXPECT_TRUE(has_line(om, "turnpike_worker_cpu_seconds_total{worker=\"0\"} 1.5"));
  // Without a ledger or a certificate, their families are left out.
  EXPECT_EQ(om.find("turnpike_ledger_"), std::string::npos);
  EXPECT_EQ(om.find("turnpike_tls_certificate"), std::string::npos);
  // No reason name "?" for the unused slots.
  EXPECT_EQ(om.find("\"?\""), std::string::npos);

  const std::string text = render_metrics(r, false);
  EXPECT_EQ(text.find("# EOF"), std::string::npos);
  EXPECT_TRUE(has_line(text, "# TYPE turnpike_allocations_started_total counter"));
  EXPECT_TRUE(has_line(text, "turnpike_allocations_started_total{transport=\"tls\"} 7"));
}

TEST(MetricsText, LabelValuesAreEscaped) {
  MetricsReport r;
  r.version = "a\"b\\c\nd";
  EXPECT_TRUE(
      has_line(render_metrics(r, true), "turnpike_build_info{version=\"a\\\"b\\\\c\\nd\"} 1"));
}

TEST(WorkerMetrics, EventsAreCountedAndSnapshotsAdd) {
  WorkerMetrics m;
  relay::Allocation a;
  a.five_tuple.transport = relay::Transport::Tcp;
  a.started_unix_ms = 1000;
  a.from_client = {300, 3};
  a.to_client = {700, 7};
  m.session_started(a, {0, 1000});
  m.session_ended(a, relay::EndReason::ClientClosed, {0, 61000});
  relay::Refusal why;
  why.reason = relay::RefusalReason::BadIntegrity;
  m.refused(why);
  m.refused(why);
  const MetricsSnapshot& c = m.counted();
  EXPECT_EQ(c.allocations_started[size_t(relay::Transport::Tcp)], 1u);
  EXPECT_EQ(c.allocations_ended[size_t(relay::EndReason::ClientClosed)], 1u);
  EXPECT_EQ(c.refusals[size_t(relay::RefusalReason::BadIntegrity)], 2u);
  EXPECT_EQ(c.to_peer[size_t(relay::Transport::Tcp)].bytes, 300u);
  EXPECT_EQ(c.to_client[size_t(relay::Transport::Tcp)].packets, 7u);
  EXPECT_EQ(c.duration.count, 1u);
  EXPECT_DOUBLE_EQ(c.duration.sum, 60.0);
  EXPECT_DOUBLE_EQ(c.bytes.sum, 1000.0);
  MetricsSnapshot sum;
  sum.add(c);
  sum.add(c);
  EXPECT_EQ(sum.refusals[size_t(relay::RefusalReason::BadIntegrity)], 4u);
  EXPECT_EQ(sum.to_peer[size_t(relay::Transport::Tcp)].bytes, 600u);
  EXPECT_EQ(sum.duration.count, 2u);
  EXPECT_EQ(sum.duration.counts[3], 2u);  // 60 s: the (30, 60] bucket
}

}  // namespace
}  // namespace turnpike::net
