// /metrics, /health and /ready (README "Metrics and health") on an HttpServer of their own
// (plain HTTP, bound to prometheus-address, 127.0.0.1 by default). Handlers run on that server's
// thread; the workers' figures are asked of the workers through their mailboxes
// (RelayService::collect_metrics), never read across threads.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "ledger/credential_counter.h"
#include "ledger/ledger_writer.h"
#include "net/http_server.h"
#include "net/metrics_text.h"
#include "net/relay_service.h"

namespace turnpike::net {

struct MetricsEndpointOptions {
  RelayService* service = nullptr;         // not owned
  ledger::LedgerWriter* ledger = nullptr;  // not owned; null with no-ledger
  std::string ledger_path;                 // for credentials issued; "" with no-ledger
  std::string version;
  // Whether the relay is draining (turnpike-admin drain, SIGUSR1): /ready answers 503.
  std::function<bool()> draining;
  // How long a scrape waits for each worker's figures.
  std::chrono::milliseconds worker_timeout{1000};
  // /health fails when the certificate expires within this many seconds.
  int64_t certificate_margin_s = 7 * 86400;
};

class MetricsEndpoint {
 public:
  explicit MetricsEndpoint(MetricsEndpointOptions o);
  void install(HttpServer& server);

  // Everything /metrics shows (also turnpike-admin status). On the caller's thread; the HTTP
  // server's and the control socket's threads may both call it.
  MetricsReport report();
  // "" when healthy, else the one-line reason /health gives.
  std::string health_problem(const MetricsReport& r) const;

 private:
  MetricsEndpointOptions o_;
  std::chrono::steady_clock::time_point started_;
  double start_unix_ = 0;
  std::mutex credentials_mu_;
  std::unique_ptr<ledger::CredentialCounter> credentials_;  // under credentials_mu_
};

}  // namespace turnpike::net
