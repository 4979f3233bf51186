#include "net/relay_service.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <mutex>
#include <cerrno>
#include <cstring>
#include <utility>

#include "core/random.h"
#include "net/log.h"
#include "net/udp.h"

namespace turnpike::net {
namespace {

std::string probe_exclusive_udp(const core::SocketAddress& addr) {
  std::string err;
  if (!open_udp(addr, false, &err)) {
    return err +
           " (is another TURN server, such as coturn or a second turnpike, already using it?)";
  }
  return {};
}

std::string probe_exclusive_tcp(const core::SocketAddress& addr) {
  // SO_REUSEADDR only: it lets the port be rebound right after a restart (TIME_WAIT) but not
  // while another socket listens on it.
  UniqueFd fd = new_socket(addr.ip().family(), SOCK_STREAM, {.reuseaddr = true});
  if (!fd) return std::string("socket(): ") + std::strerror(errno);
  if (!bind_to(fd.get(), addr)) {
    return "cannot bind " + addr.to_string() + "/tcp: " + std::strerror(errno) +
           " (is another server, such as coturn or a web server, already using it?)";
  }
  return {};
}

}  // namespace

RelayService::RelayService(ServiceOptions o) : o_(std::move(o)) {}

RelayService::~RelayService() {
  stop();
}

std::string RelayService::open() {
  std::array<uint8_t, 32> nonce_key;
  core::random_bytes(nonce_key.data(), nonce_key.size());
  relay::PeerPolicy::Options policy = o_.policy;
  for (const auto& a : o_.udp_listeners) policy.own_listeners.push_back(a);
  for (const auto& a : o_.dtls_listeners) policy.own_listeners.push_back(a);
  shared_ =
      std::make_unique<SharedState>(o_.settings, relay::PeerPolicy(std::move(policy)), nonce_key,
                                    o_.user_quota, o_.total_quota, o_.min_port, o_.max_port);
  // Every worker binds each listener with SO_REUSEPORT, which the kernel also grants to any
  // other process of the same user: a second turnpike (or coturn) would silently share the
  // port and split the clients between the two. A plain bind first proves the port is free.
  for (const auto& addr : o_.udp_listeners) {
    if (std::string err = probe_exclusive_udp(addr); !err.empty()) return err;
  }
  for (const auto& addr : o_.dtls_listeners) {
    if (std::string err = probe_exclusive_udp(addr); !err.empty()) return err;
  }
  for (const auto& spec : o_.stream_listeners) {
    if (std::string err = probe_exclusive_tcp(spec.address); !err.empty()) return err;
  }
  shared_->streams = o_.streams;
  ConnectionLimits::Caps caps;
  caps.per_address = o_.max_connections_per_ip;
  caps.per_ipv6_64 = o_.max_connections_per_ipv6_64;
  caps.total = o_.max_connections;
  // Past the total, room for addresses that hold nothing yet (connection_limits.h).
  caps.newcomer_reserve = caps.total ? std::max(16u, caps.total / 64) : 0;
  shared_->connections.set_caps(caps);
  // The certificate and key are read now, before privileges are dropped.
  if (uses_tls()) {
    std::string err;
    tls_ = load_tls_contexts(o_.tls, !o_.dtls_listeners.empty(), &err);
    if (!tls_) return err;
    cert_not_after_ = tls_->not_after_unix;
    log(tls_->expired ? LogLevel::Warning : LogLevel::Notice, "TLS certificate ", o_.tls.cert, ": ",
        tls_->description);
  }
  // The kernel fast path is loaded now, while the process still has its capabilities.
  if (o_.offload.mode != OffloadMode::Off) {
    std::string why;
    offload_ = KernelOffload::load(o_.offload, &why);
    if (offload_) {
      log(LogLevel::Notice, "kernel offload: ", offload_->description());
    } else if (o_.offload.mode == OffloadMode::On) {
      return "kernel-offload=on: " + why;
    } else {
      log(LogLevel::Notice, "kernel offload not loaded: ", why,
          "; ChannelData is relayed in user space (kernel-offload=on refuses to start instead, "
          "kernel-offload=off silences it)");
    }
  }
  for (unsigned i = 0; i < o_.threads; ++i) {
    auto w = std::make_unique<Worker>(i, *shared_, o_.credentials, o_.credentials->realm);
    if (offload_) {
      // Each worker owns its range of the flow slots: no two threads ever write one.
      const uint32_t share = offload_->capacity() / o_.threads;
      w->attach_offload(*offload_, i * share, share);
    }
    w->set_tls(tls_);
    for (const auto& addr : o_.udp_listeners) {
      if (std::string err = w->listen_udp(addr); !err.empty()) {
        return err;
      }
    }
    if (o_.ledger) w->attach_ledger(o_.ledger->add_producer());
    for (const auto& spec : o_.stream_listeners) {
      if (std::string err = w->listen_stream(spec); !err.empty()) {
        return err + " (is another server, such as coturn or a web server, already using it?)";
      }
    }
    for (const auto& addr : o_.dtls_listeners) {
      if (std::string err = w->listen_dtls(addr); !err.empty()) {
        return err + " (is another TURN server, such as coturn, already using it?)";
      }
    }
    workers_.push_back(std::move(w));
  }
  for (auto& w : workers_) shared_->workers.push_back(w.get());
  return {};
}

std::string RelayService::open_from(const core::HandoverState& s, std::vector<UniqueFd>& fds) {
  if (s.workers.size() != o_.threads) {
    return "the running process has " + std::to_string(s.workers.size()) +
           " worker(s), the new configuration " + std::to_string(o_.threads) +
           " (threads): restart turnpike to change that";
  }
  relay::PeerPolicy::Options policy = o_.policy;
  for (const auto& a : o_.udp_listeners) policy.own_listeners.push_back(a);
  for (const auto& a : o_.dtls_listeners) policy.own_listeners.push_back(a);
  // The nonce key goes on, so nonces issued before the hand-over stay valid (no 438 storm).
  shared_ = std::make_unique<SharedState>(o_.settings, relay::PeerPolicy(std::move(policy)),
                                          s.nonce_key, o_.user_quota, o_.total_quota, o_.min_port,
                                          o_.max_port);
  shared_->streams = o_.streams;
  shared_->connections.set_per_address(o_.max_connections_per_ip);
  if (uses_tls()) {
    std::string err;
    tls_ = load_tls_contexts(o_.tls, !o_.dtls_listeners.empty(), &err);
    if (!tls_) return err;
  }
  if (o_.offload.mode != OffloadMode::Off) {
    std::string why;
    offload_ = KernelOffload::load(o_.offload, &why);
    if (offload_) {
      log(LogLevel::Notice, "kernel offload: ", offload_->description());
    } else if (o_.offload.mode == OffloadMode::On) {
      return "kernel-offload=on: " + why;
    } else {
      log(LogLevel::Notice, "kernel offload not loaded after the hand-over: ", why,
          "; ChannelData is relayed in user space");
    }
  }
  std::vector<bool> used(s.listeners.size());
  auto take = [&](core::HandoverListenerKind kind, bool proxy, unsigned worker,
                  const core::SocketAddress& addr) -> UniqueFd {
    for (size_t i = 0; i < s.listeners.size(); ++i) {
      const core::HandoverListener& l = s.listeners[i];
      if (used[i] || l.kind != kind || l.proxy_protocol != proxy || l.worker != worker ||
          l.address != addr)
        continue;
      used[i] = true;
      return std::move(fds[l.fd]);
    }
    return UniqueFd();
  };
  const std::string restart = ": the new configuration listens elsewhere; restart turnpike for that";
  for (unsigned i = 0; i < o_.threads; ++i) {
    auto w = std::make_unique<Worker>(i, *shared_, o_.credentials, o_.credentials->realm);
    if (offload_) {
      const uint32_t share = offload_->capacity() / o_.threads;
      w->attach_offload(*offload_, i * share, share);
    }
    w->set_tls(tls_);
    for (const auto& addr : o_.udp_listeners) {
      UniqueFd fd = take(core::HandoverListenerKind::Udp, false, i, addr);
      if (!fd) return "no socket for " + addr.to_string() + "/udp in the hand-over" + restart;
      w->adopt_udp(std::move(fd), addr);
    }
    if (o_.ledger) w->attach_ledger(o_.ledger->add_producer());
    for (const auto& spec : o_.stream_listeners) {
      const auto kind = spec.kind == StreamKind::Tcp   ? core::HandoverListenerKind::Tcp
                        : spec.kind == StreamKind::Tls ? core::HandoverListenerKind::Tls
                                                       : core::HandoverListenerKind::Mux;
      UniqueFd fd = take(kind, spec.proxy_protocol, i, spec.address);
      if (!fd) return "no socket for " + spec.describe() + " in the hand-over" + restart;
      w->adopt_stream(spec, std::move(fd));
    }
    for (const auto& addr : o_.dtls_listeners) {
      UniqueFd fd = take(core::HandoverListenerKind::Dtls, false, i, addr);
      if (!fd) return "no socket for " + addr.to_string() + "/dtls in the hand-over" + restart;
      w->adopt_dtls(std::move(fd), addr);
    }
    w->server().restore_counters(s.workers[i].next_session, s.workers[i].counters);
    workers_.push_back(std::move(w));
  }
  for (size_t i = 0; i < s.listeners.size(); ++i) {
    // The check page's sockets are cmd's to take (HttpServer::adopt).
    if (!used[i] && s.listeners[i].kind != core::HandoverListenerKind::Http) {
      return "the running process listens on " + s.listeners[i].address.to_string() +
             ", the new configuration does not" + restart;
    }
  }
  for (auto& w : workers_) shared_->workers.push_back(w.get());
  for (const auto& a : s.allocations) {
    if (std::string err = workers_[a.worker]->restore(a, fds); !err.empty()) return err;
  }
  return {};
}

void RelayService::quiesce(core::HandoverState& out, std::vector<int>& fds) {
  gate_ = std::make_shared<Gate>();
  std::vector<core::HandoverState> parts(workers_.size());
  std::vector<std::vector<int>> part_fds(workers_.size());
  for (size_t i = 0; i < workers_.size(); ++i) {
    workers_[i]->post([gate = gate_, part = &parts[i], pfds = &part_fds[i]](Worker& w) {
      w.export_state(*part, *pfds);
      std::unique_lock lock(gate->mu);
      ++gate->arrived;
      gate->cv.notify_all();
      // The worker stops here, at the top of its loop: what arrives meanwhile waits in the
      // sockets' buffers for whichever process relays next.
      gate->cv.wait(lock, [&] { return gate->decision != Gate::Decision::Wait; });
      const bool release = gate->decision == Gate::Decision::Release;
      lock.unlock();
      if (release) w.release();
    });
  }
  {
    std::unique_lock lock(gate_->mu);
    gate_->cv.wait(lock, [&] { return gate_->arrived == workers_.size(); });
  }
  // One state: the workers' parts with their sockets numbered in one list.
  out.workers.assign(workers_.size(), {});
  for (size_t i = 0; i < workers_.size(); ++i) {
    const uint32_t base = uint32_t(fds.size());
    for (auto l : parts[i].listeners) {
      l.fd += base;
      out.listeners.push_back(l);
    }
    for (auto& a : parts[i].allocations) {
      for (auto& r : a.relays) r.fd += base;
      out.allocations.push_back(std::move(a));
    }
    if (i < parts[i].workers.size()) out.workers[i] = parts[i].workers[i];
    fds.insert(fds.end(), part_fds[i].begin(), part_fds[i].end());
  }
  out.nonce_key = shared_->nonces.key();
  out.fd_count = uint32_t(fds.size());
}

void RelayService::resume() {
  if (!gate_) return;
  {
    std::lock_guard lock(gate_->mu);
    gate_->decision = Gate::Decision::Resume;
  }
  gate_->cv.notify_all();
  gate_.reset();
}

void RelayService::release() {
  if (!gate_) return;
  {
    std::lock_guard lock(gate_->mu);
    gate_->decision = Gate::Decision::Release;
  }
  gate_->cv.notify_all();
  gate_.reset();
  for (auto& w : workers_) w->join();
  stopped_ = true;
}

bool RelayService::uses_tls() const {
  if (!o_.dtls_listeners.empty()) return true;
  for (const auto& s : o_.stream_listeners) {
    if (s.kind != StreamKind::Tcp) return true;
  }
  return false;
}

std::string RelayService::reload_tls(const TlsFiles& files, std::string* description) {
  if (!uses_tls()) return {};
  std::string err;
  TlsContextsPtr fresh = load_tls_contexts(files, !o_.dtls_listeners.empty(), &err);
  if (!fresh) return err;
  tls_ = fresh;
  cert_not_after_ = fresh->not_after_unix;
  o_.tls = files;
  // Each worker swaps its pointer on its own thread; handshakes already under way and
  // established connections hold their own reference to the old SSL_CTX.
  for (auto& w : workers_) {
    w->post([fresh](Worker& self) { self.set_tls(fresh); });
  }
  *description = fresh->description;
  return {};
}

std::string RelayService::tls_description() const {
  return tls_ ? tls_->description : std::string();
}

MetricsSnapshot RelayService::collect_metrics(std::chrono::milliseconds timeout) {
  struct Gather {
    std::mutex mu;
    std::condition_variable cv;
    MetricsSnapshot sum;
    size_t answered = 0;
  };
  // Shared with the jobs: a worker that answers after the deadline writes into it harmlessly.
  auto g = std::make_shared<Gather>();
  for (auto& w : workers_) {
    w->post([g](Worker& self) {
      MetricsSnapshot mine;
      self.snapshot_metrics(&mine);
      std::lock_guard<std::mutex> lock(g->mu);
      g->sum.add(mine);
      ++g->answered;
      g->cv.notify_one();
    });
  }
  std::unique_lock<std::mutex> lock(g->mu);
  g->cv.wait_for(lock, timeout, [&] { return g->answered == workers_.size(); });
  return g->sum;
}

void RelayService::set_draining(bool on) {
  draining_ = on;
  for (auto& w : workers_) {
    w->post([on](Worker& self) { self.server().set_draining(on); });
  }
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
  if (offload_ && !stopped_) {
    const KernelOffload::Stats st = offload_->stats();
    log(LogLevel::Notice, "kernel offload: relayed ", st[TP_STAT_TO_PEER], " datagrams to peers and ",
        st[TP_STAT_TO_CLIENT], " to clients in the kernel; left to user space: ",
        st[TP_STAT_EXPIRED], " expired, ", st[TP_STAT_HEARTBEAT], " without heartbeat, ",
        st[TP_STAT_MALFORMED], " malformed, ", st[TP_STAT_TOO_BIG], " too big, ", st[TP_STAT_TTL],
        " at TTL 1, ", st[TP_STAT_GSO], " GSO; dropped mid-rewrite: ", st[TP_STAT_FAILED]);
  }
  stopped_ = true;
}

}  // namespace turnpike::net
