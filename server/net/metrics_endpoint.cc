#include "net/metrics_endpoint.h"

#include <cstdint>
#include <ctime>
#include <string>
#include <utility>

namespace turnpike::net {
namespace {

bool wants_openmetrics(const HttpRequest& req) {
  // Prometheus asks "application/openmetrics-text;version=1.0.0,...;q=0.5,text/plain;...".
  return req.header("accept").find("application/openmetrics-text") != std::string::npos;
}

}  // namespace

MetricsEndpoint::MetricsEndpoint(MetricsEndpointOptions o)
    : o_(std::move(o)), started_(std::chrono::steady_clock::now()) {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  start_unix_ = double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
  if (!o_.ledger_path.empty())
    credentials_ = std::make_unique<ledger::CredentialCounter>(o_.ledger_path);
}

MetricsReport MetricsEndpoint::report() {
  MetricsReport r;
  r.sum = o_.service->collect_metrics(o_.worker_timeout);
  r.workers = unsigned(o_.service->worker_count());
  r.version = o_.version;
  r.start_time_unix = start_unix_;
  r.uptime_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  r.draining = o_.draining && o_.draining();
  if (o_.ledger) r.ledger = o_.ledger->stats();
  if (credentials_) {
    std::lock_guard<std::mutex> lock(credentials_mu_);
    r.credentials_issued = credentials_->total();
  }
  if (const int64_t t = o_.service->certificate_not_after()) r.certificate_not_after = t;
  r.kernel_offload = o_.service->offload() != nullptr;
  return r;
}

std::string MetricsEndpoint::health_problem(const MetricsReport& r) const {
  // Every listener was bound at start (or the process would have exited); a worker that does
  // not answer its mailbox is stuck and its listeners with it.
  if (r.sum.workers.size() < r.workers) {
    return std::to_string(r.workers - r.sum.workers.size()) + " of " + std::to_string(r.workers) +
           " worker(s) did not answer within " + std::to_string(o_.worker_timeout.count()) + " ms";
  }
  // A ledger not opened yet (the writer starts with the workers) has not failed.
  if (r.ledger &&
      (r.ledger->damaged || (!r.ledger->database_ok && !r.ledger->last_error.empty()))) {
    return "ledger not writable (relaying goes on, events are held or dropped): " +
           r.ledger->last_error;
  }
  if (r.certificate_not_after) {
    const int64_t left = *r.certificate_not_after - int64_t(std::time(nullptr));
    if (left <= 0) return "TLS certificate expired";
    if (left <= o_.certificate_margin_s) {
      return "TLS certificate expires in " + std::to_string(left / 3600) + " hour(s)";
    }
  }
  return {};
}

void MetricsEndpoint::install(HttpServer& server) {
  server.handle("/metrics", [this](const HttpRequest& req) {
    const bool om = wants_openmetrics(req);
    HttpResponse res;
    res.content_type = om ? kOpenMetricsType : kPrometheusTextType;
    res.body = render_metrics(report(), om);
    return res;
  });
  server.handle("/health", [this](const HttpRequest&) {
    const std::string problem = health_problem(report());
    return problem.empty() ? HttpResponse::text(200, "ok\n")
                           : HttpResponse::text(503, problem + "\n");
  });
  server.handle("/ready", [this](const HttpRequest&) {
    const MetricsReport r = report();
    if (r.draining) return HttpResponse::text(503, "draining\n");
    if (r.sum.workers.size() < r.workers) return HttpResponse::text(503, health_problem(r) + "\n");
    return HttpResponse::text(200, "ready\n");
  });
}

}  // namespace turnpike::net
