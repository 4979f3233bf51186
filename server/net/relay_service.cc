#include "net/relay_service.h"

#include <signal.h>

#include "core/random.h"
#include "net/udp.h"

namespace turnpike::net {

RelayService::RelayService(ServiceOptions o) : o_(std::move(o)) {}

RelayService::~RelayService() { stop(); }

std::string RelayService::open() {
  std::array<uint8_t, 32> nonce_key;
  core::random_bytes(nonce_key.data(), nonce_key.size());
  relay::PeerPolicy::Options policy = o_.policy;
  for (const auto& a : o_.udp_listeners) policy.own_listeners.push_back(a);
  shared_ = std::make_unique<SharedState>(o_.settings, relay::PeerPolicy(std::move(policy)), nonce_key,
                                          o_.user_quota, o_.total_quota, o_.min_port, o_.max_port);
  // Every worker binds each listener with SO_REUSEPORT, which the kernel also grants to any
  // other process of the same user: a second turnpike (or coturn) would silently share the
  // port and split the clients between the two. A plain bind first proves the port is free.
  for (const auto& addr : o_.udp_listeners) {
    std::string err;
    if (!open_udp(addr, false, &err)) {
      return err + " (is another TURN server, such as coturn or a second turnpike, already using it?)";
    }
  }
  for (unsigned i = 0; i < o_.threads; ++i) {
    auto w = std::make_unique<Worker>(i, *shared_, o_.credentials, o_.credentials->realm);
    for (const auto& addr : o_.udp_listeners) {
      if (std::string err = w->listen_udp(addr); !err.empty()) {
        return err;
      }
    }
    if (o_.ledger) w->attach_ledger(o_.ledger->add_producer());
    workers_.push_back(std::move(w));
  }
  return {};
}

void RelayService::start() {
  // Workers never handle signals: the main thread does.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  for (auto& w : workers_) w->start();
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void RelayService::update_credentials(relay::CredentialsPtr c) {
  for (auto& w : workers_) {
    w->post([c](Worker& self) { self.server().set_credentials(c); });
  }
}

void RelayService::stop() {
  for (auto& w : workers_) w->request_stop();
  for (auto& w : workers_) w->join();
}

}  // namespace turnpike::net
