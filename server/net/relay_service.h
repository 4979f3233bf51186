// The relay as a whole: the workers, their listeners, and what they share. cmd builds the
// options from the configuration; this class owns the threads.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <memory>
#include <string>
#include <vector>

#include "core/handover_state.h"
#include "ledger/ledger_writer.h"
#include "net/offload/kernel_offload.h"
#include "net/shared_state.h"
#include "net/stream_settings.h"
#include "net/tcp_listener.h"
#include "net/tls_context.h"
#include "net/worker.h"
#include "net/worker_metrics.h"
#include "relay/credentials.h"

namespace turnpike::net {

struct ServiceOptions {
  relay::Settings settings;
  relay::PeerPolicy::Options policy;
  relay::CredentialsPtr credentials;
  unsigned threads = 1;
  std::vector<core::SocketAddress> udp_listeners;
  // TCP, TLS, shared-port and PROXY-protocol listeners; DTLS on udp.
  std::vector<StreamListenerSpec> stream_listeners;
  std::vector<core::SocketAddress> dtls_listeners;
  TlsFiles tls;  // needed when a TLS, shared-port or DTLS listener is configured
  StreamSettings streams;
  unsigned max_connections_per_ip = 512;
  unsigned max_connections_per_ipv6_64 = 1024;
  unsigned max_connections = 0;  // in total (cmd sets it from the descriptor limit); 0: none
  OffloadOptions offload;  // the kernel fast path (DESIGN.md "Kernel fast path")
  uint16_t min_port = 49152;
  uint16_t max_port = 65535;
  unsigned user_quota = 0;
  unsigned total_quota = 0;
  ledger::LedgerWriter* ledger = nullptr;  // not owned; nullptr with no-ledger
};

class RelayService {
 public:
  explicit RelayService(ServiceOptions o);
  ~RelayService();

  // Creates the workers, reads the certificate and key, and binds every listener. Returns an
  // error text naming the address or the file. Call it before dropping privileges.
  std::string open();
  // In a process taking over (DESIGN.md "Restart and upgrade"): the same, around the listeners
  // and allocations of state `s` and its sockets `fds`, instead of binding. The configuration
  // must have the same listeners and threads as the state; otherwise, or when anything cannot
  // be restored, an error says what (the old process then goes on).
  std::string open_from(const core::HandoverState& s, std::vector<UniqueFd>& fds);
  void start();

  // ---- Hand-over, in the process handing over. quiesce() stops every worker at the top of its
  // loop, each having written its part of `out` (sockets in `fds`, still owned here); then
  // exactly one of resume() (the other process refused: everything goes on) or release() (it
  // took over: workers let go of what it took, end the rest and stop; joined on return).
  void quiesce(core::HandoverState& out, std::vector<int>& fds);
  void resume();
  void release();
  // A new realm/secret/user set (SIGHUP). Sessions keep their keys; new requests use the new set.
  void update_credentials(relay::CredentialsPtr c);
  // Whether any listener speaks TLS or DTLS.
  bool uses_tls() const;
  // Re-reads the certificate and key (SIGHUP/SIGUSR2). On success every worker uses the new
  // ones for new handshakes (existing connections keep theirs) and `description` tells which;
  // on failure the old ones stay and the error says why (file, user, OpenSSL's reason).
  std::string reload_tls(const TlsFiles& files, std::string* description);
  // The current certificate's TLS context, shared (the check page's HTTPS listener uses it).
  TlsContextsPtr tls_contexts() const { return tls_; }
  // What the current certificate is ("subject ..., serial ..., valid until ...").
  std::string tls_description() const;
  // Ends every session (reason: shutdown) and joins the workers.
  void stop();
  // The kernel fast path, when it is loaded.
  const KernelOffload* offload() const { return offload_.get(); }

  // Every worker's figures, each taken on its own thread (worker_metrics.h) and added; a worker
  // that does not answer within `timeout` is left out (MetricsSnapshot::workers says who did).
  // Thread-safe; blocks the caller (the metrics thread) up to `timeout`.
  MetricsSnapshot collect_metrics(std::chrono::milliseconds timeout);
  // The current certificate's notAfter (Unix time; 0 without TLS). Thread-safe.
  int64_t certificate_not_after() const { return cert_not_after_.load(std::memory_order_relaxed); }

  // Draining (net/drain.h): every worker refuses new allocations from now on. Thread-safe.
  void set_draining(bool on);
  bool draining() const { return draining_.load(std::memory_order_relaxed); }

  size_t worker_count() const { return workers_.size(); }
  // Allocations alive on every worker (the quota book counts them; any thread, never a worker's
  // relay path).
  unsigned allocations() const { return shared_ ? shared_->quotas.total_in_use() : 0; }
  Worker& worker(size_t i) { return *workers_[i]; }

 private:
  ServiceOptions o_;
  std::unique_ptr<SharedState> shared_;
  TlsContextsPtr tls_;  // the current certificate (main thread's copy)
  std::unique_ptr<KernelOffload> offload_;  // outlives the workers, whose flows it holds
  std::vector<std::unique_ptr<Worker>> workers_;
  bool stopped_ = false;
  // quiesce(): workers waiting for resume() or release().
  struct Gate {
    std::mutex mu;
    std::condition_variable cv;
    size_t arrived = 0;
    enum class Decision { Wait, Resume, Release } decision = Decision::Wait;
  };
  std::shared_ptr<Gate> gate_;
  std::atomic<int64_t> cert_not_after_{0};
  std::atomic<bool> draining_{false};
};

}  // namespace turnpike::net
