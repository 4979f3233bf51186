// The relay as a whole: the workers, their listeners, and what they share. cmd builds the
// options from the configuration; this class owns the threads.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "net/shared_state.h"
#include "ledger/ledger_writer.h"
#include "net/worker.h"
#include "relay/credentials.h"

namespace turnpike::net {

struct ServiceOptions {
  relay::Settings settings;
  relay::PeerPolicy::Options policy;
  relay::CredentialsPtr credentials;
  unsigned threads = 1;
  std::vector<core::SocketAddress> udp_listeners;
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

  // Creates the workers and binds every listener. Returns an error text naming the address.
  std::string open();
  void start();
  // A new realm/secret/user set (SIGHUP). Sessions keep their keys; new requests use the new set.
  void update_credentials(relay::CredentialsPtr c);
  // Ends every session (reason: shutdown) and joins the workers.
  void stop();

  size_t worker_count() const { return workers_.size(); }
  Worker& worker(size_t i) { return *workers_[i]; }

 private:
  ServiceOptions o_;
  std::unique_ptr<SharedState> shared_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace turnpike::net
