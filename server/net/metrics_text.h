// The /metrics page: every figure with a turnpike_ prefix, in the OpenMetrics text format
// (OpenMetrics 1.0, what Prometheus asks for first) or Prometheus' older text format 0.0.4 (for
// scrapers that do not ask for OpenMetrics). The two differ only in how counter families are
// named in # TYPE lines and in OpenMetrics' closing "# EOF". README "Metrics" lists each name.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "ledger/ledger_writer.h"
#include "net/worker_metrics.h"

namespace turnpike::net {

struct MetricsReport {
  MetricsSnapshot sum;   // every worker's snapshot added
  unsigned workers = 0;  // configured; sum.workers has those that answered in time
  std::string version;
  double start_time_unix = 0;
  double uptime_seconds = 0;
  bool draining = false;
  std::optional<ledger::WriterStats> ledger;     // with a ledger
  std::optional<uint64_t> credentials_issued;    // when the ledger could be read
  std::optional<int64_t> certificate_not_after;  // with TLS
  bool kernel_offload = false;
};

std::string render_metrics(const MetricsReport& r, bool openmetrics);

// Content-Type of each format.
constexpr const char* kOpenMetricsType =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";
constexpr const char* kPrometheusTextType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace turnpike::net
