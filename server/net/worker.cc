#include "net/worker.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <unordered_map>
#include <vector>

#include "core/random.h"
#include "net/clock.h"
#include "net/dtls_listener.h"
#include "net/log.h"
#include "net/stream_connection.h"
#include "net/tcp_peer_connection.h"
#include "relay/allocation.h"

namespace turnpike::net {
namespace {

// How long a stopping worker may wait, in all, for room in its ledger ring.
constexpr auto kLedgerStopWait = std::chrono::seconds(5);

}  // namespace

void UdpListener::send(const core::SocketAddress& to, core::Bytes data) {
  worker_.send_udp(fd_.get(), to, data);
}

Worker::Worker(unsigned index, SharedState& shared, relay::CredentialsPtr credentials,
               std::string realm)
    : index_(index),
      shared_(shared),
      base_(event_base_new()),
      stream_loop_(base_.get()),
      batch_(std::make_unique<RecvBatch>()),
      events_(std::move(realm)) {
  events_.chain(&metrics_);
  server_ = std::make_unique<relay::Server>(
      shared_.settings, shared_.policy, std::move(credentials), shared_.nonces, *this, events_,
      shared_.quotas, shared_.connection_ids, uint8_t(index + 1), core::system_random());
  // One coarse tick per worker for every expiry (DESIGN.md), not one timer per object.
  connections_ = std::make_unique<ConnectionSet>(base_.get());
  tick_.reset(event_new(base_.get(), -1, EV_PERSIST, &Worker::on_tick, this));
  const timeval one_second{1, 0};
  event_add(tick_.get(), &one_second);
  mailbox_ = std::make_unique<Mailbox>(base_.get());
}

Worker::~Worker() {
  join();
  server_.reset();       // closes the remaining relay sockets while the base is alive
  connections_.reset();  // TCP/TLS connections and DTLS sessions, before their listeners
  dtls_.clear();
  tcp_.clear();
  udp_.clear();
  tick_.reset();
  mailbox_.reset();
}

std::string Worker::listen_udp(const core::SocketAddress& addr) {
  std::string error;
  UniqueFd fd = open_udp_listener(addr, &error);
  if (!fd) return error;
  auto l = std::make_unique<UdpListener>(*this, std::move(fd), addr);
  l->ev.reset(event_new(base_.get(), l->fd(), EV_READ | EV_PERSIST, &Worker::on_listener_readable,
                        l.get()));
  event_add(l->ev.get(), nullptr);
  udp_.push_back(std::move(l));
  return {};
}

void Worker::adopt_udp(UniqueFd fd, const core::SocketAddress& addr) {
  auto l = std::make_unique<UdpListener>(*this, std::move(fd), addr);
  l->ev.reset(event_new(base_.get(), l->fd(), EV_READ | EV_PERSIST, &Worker::on_listener_readable,
                        l.get()));
  event_add(l->ev.get(), nullptr);
  udp_.push_back(std::move(l));
}

void Worker::adopt_stream(const StreamListenerSpec& spec, UniqueFd fd) {
  tcp_.push_back(std::make_unique<TcpListener>(*this, spec, std::move(fd)));
}

void Worker::adopt_dtls(UniqueFd fd, const core::SocketAddress& addr) {
  dtls_.push_back(std::make_unique<DtlsListener>(*this, std::move(fd), addr));
}

std::string Worker::restore(const core::HandoverAllocation& h, std::vector<UniqueFd>& fds) {
  // The client reached this worker's listener on h.server, and the kernel keeps hashing it here:
  // the listeners are the same sockets, in the same SO_REUSEPORT group.
  UdpListener* via = nullptr;
  for (auto& l : udp_) {
    if (l->local() == h.server) via = l.get();
  }
  if (!via) return "allocation of " + h.client.to_string() + ": no UDP listener on " + h.server.to_string();
  adopting_ = &fds;
  std::string err = server_->restore(h, relay::ClientRef{via, h.client}, now());
  adopting_ = nullptr;
  return err;
}

relay::RelaySocket* Worker::adopt_relay(relay::Allocation& owner, uint8_t index, uint32_t fd) {
  if (!adopting_ || fd >= adopting_->size() || !(*adopting_)[fd]) return nullptr;
  auto* s = new relay::RelaySocket;
  s->fd = std::move((*adopting_)[fd]);
  s->worker = this;
  s->owner = &owner;
  s->index = index;
  s->ev.reset(
      event_new(base_.get(), s->fd.get(), EV_READ | EV_PERSIST, &Worker::on_relay_readable, s));
  event_add(s->ev.get(), nullptr);
  return s;
}

void Worker::export_state(core::HandoverState& out, std::vector<int>& fds) {
  flush_sends();  // what this round relayed leaves before the worker waits
  const uint16_t me = uint16_t(index_);
  auto number = [&](int fd) {
    fds.push_back(fd);
    return uint32_t(fds.size() - 1);
  };
  for (const auto& l : udp_) {
    out.listeners.push_back(
        {core::HandoverListenerKind::Udp, false, me, l->local(), number(l->fd())});
  }
  for (const auto& t : tcp_) {
    const StreamListenerSpec& spec = t->spec();
    const auto kind = spec.kind == StreamKind::Tcp   ? core::HandoverListenerKind::Tcp
                      : spec.kind == StreamKind::Tls ? core::HandoverListenerKind::Tls
                                                     : core::HandoverListenerKind::Mux;
    out.listeners.push_back({kind, spec.proxy_protocol, me, spec.address, number(t->fd())});
  }
  for (const auto& d : dtls_) {
    out.listeners.push_back(
        {core::HandoverListenerKind::Dtls, false, me, d->local(), number(d->fd())});
  }
  std::vector<relay::Allocation*> movable;
  server_->for_each_allocation([&](const relay::Allocation& a) {
    if (relay::Server::can_hand_over(a)) movable.push_back(server_->find(a.five_tuple));
  });
  for (relay::Allocation* a : movable) {
    out.allocations.push_back(server_->export_allocation(
        *a, me, [&](relay::RelaySocket* s) { return number(s->fd.get()); }));
  }
  out.workers.resize(std::max<size_t>(out.workers.size(), index_ + 1));
  out.workers[index_].next_session = server_->next_session();
  out.workers[index_].counters = server_->export_stats();
}

void Worker::release() {
  if (ledger_) ledger_->set_shutting_down(std::chrono::steady_clock::now() + kLedgerStopWait);
  server_->release_handed_over(now());
  // Not one more callback of this round: the sockets are the other process's now.
  event_base_loopbreak(base_.get());
}

void Worker::attach_offload(KernelOffload& k, uint32_t first, uint32_t count) {
  flows_ = std::make_unique<FlowTable>(k, first, count);
  server_->set_offload(flows_.get());
  offload_progress();
}

void Worker::offload_progress() {
  // The ledger's progress records count what the kernel relayed too (in either attach order).
  if (!ledger_ || !flows_) return;
  ledger_->set_before_progress([this](const relay::Allocation& a) {
    if (relay::Allocation* mine = server_->find(a.five_tuple)) server_->collect_offloaded(*mine);
  });
}

void Worker::attach_ledger(ledger::Producer& p) {
  ledger_ = std::make_unique<LedgerSink>(p);
  metrics_.chain(ledger_.get());
  offload_progress();
}

std::string Worker::listen_stream(const StreamListenerSpec& spec) {
  std::string error;
  UniqueFd fd = open_tcp_listener(spec.address, &error);
  if (!fd) return error;
  tcp_.push_back(std::make_unique<TcpListener>(*this, spec, std::move(fd)));
  return {};
}

std::string Worker::listen_dtls(const core::SocketAddress& addr) {
  std::string error;
  UniqueFd fd = open_udp_listener(addr, &error);
  if (!fd) return error;
  dtls_.push_back(std::make_unique<DtlsListener>(*this, std::move(fd), addr));
  return {};
}

void Worker::start() {
  thread_ = std::thread([this] {
    attach_log_thread();  // its log queue now, not at its first line while relaying
    // One round = one epoll_wait() and the callbacks of everything it found ready. Relayed
    // datagrams wait in their receive slots until the round ends, so that those of many sockets
    // leave together (udp_sender.h): e.g. peer data of many allocations for many clients is one
    // sendmmsg() on the listener. The round is short: it only runs what was already ready.
    while (event_base_loop(base_.get(), EVLOOP_ONCE) == 0 && !event_base_got_exit(base_.get()) &&
           !event_base_got_break(base_.get())) {
      flush_sends();
    }
    flush_sends();
  });
}

void Worker::flush_sends() {
  sender_.flush();
  batch_->release_all();
  stream_loop_.flush();
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::post(WorkerJob job) {
  mailbox_->post([this, job = std::move(job)]() mutable { job(*this); });
}

void Worker::request_stop() {
  post([](Worker& w) {
    for (const auto& d : w.dtls_) {
      const DtlsStats& st = d->stats();
      if (st.hello_verify_requests || st.sessions || st.ignored || st.refused) {
        log(LogLevel::Notice, "dtls ", d->local().to_string(), " worker ", w.index_, ": ",
            st.hello_verify_requests, " HelloVerifyRequests sent, ", st.sessions,
            " sessions created, ", st.ignored, " datagrams ignored, ", st.refused, " refused");
      }
    }
    // Every session's last record must reach the ledger: wait for room rather than drop, but
    // not beyond one deadline for them all (a locked ledger must not hold the stop up).
    if (w.ledger_)
      w.ledger_->set_shutting_down(std::chrono::steady_clock::now() + kLedgerStopWait);
    w.server_->shutdown(now());
    if (w.flows_) {
      const FlowTable::Stats& st = w.flows_->stats();
      log(LogLevel::Notice, "kernel offload, worker ", w.index_, ": ", st.installed,
          " channels handed to the kernel, ", st.kept_in_user_space, " kept in user space (",
          st.not_udp, " not UDP, ", st.mixed_families, " IPv4/IPv6 mixed, ", st.no_route,
          " no route or on this host, ", st.full, " table full), ", st.late_packets,
          " packets counted late; ", w.server_->stats().relayed, " datagrams relayed in user space");
    }
    event_base_loopexit(w.base_.get(), nullptr);
  });
}

void Worker::on_tick(evutil_socket_t, short, void* arg) {
  auto* w = static_cast<Worker*>(arg);
  const relay::Now t = now();
  w->server_->tick(t);
  w->connections_->tick(t);
  for (auto& l : w->tcp_) l->resume_if_paused(t.mono_ms);
  if (!w->paused_relays_.empty()) w->resume_paused_relays(t.mono_ms);
  if (w->index_ == 0) w->shared_.ports.expire(t.mono_ms);
  if (w->flows_) w->flows_->tick();
  // A thirtieth of the sessions' counters each tick (LedgerSink), not all of them at once; what
  // the kernel relayed for them is added first (attach_offload).
  if (w->ledger_) w->ledger_->tick(t);
}

void Worker::resume_paused_relays(int64_t now_ms) {
  std::erase_if(paused_relays_, [now_ms](relay::RelaySocket* s) {
    if (now_ms < s->paused_until_ms) return false;
    s->paused_until_ms = 0;
    event_add(s->ev.get(), nullptr);
    return true;
  });
}

void Worker::on_listener_readable(evutil_socket_t, short, void* arg) {
  auto* l = static_cast<UdpListener*>(arg);
  l->worker().drain_listener(*l);
}

void Worker::drain_listener(UdpListener& l) {
  const relay::Now t = now();
  RecvBatch& b = *batch_;
  deferring_ = true;
  // A bounded number of rounds, so one busy socket cannot starve the others.
  for (int round = 0; round < 4; ++round) {
    if (b.full()) flush_sends();  // every slot holds a queued datagram: send them first
    const int n = b.receive(l.fd());
    for (int i = 0; i < n; ++i) {
      if (b.truncated(unsigned(i))) continue;
      auto src =
          core::SocketAddress::from_sockaddr(b.source(unsigned(i)), b.source_len(unsigned(i)));
      if (!src) continue;
      const relay::ClientRef ref{&l, *src};
      const relay::FiveTuple tuple{*src, l.local(), relay::Transport::Udp};
      server_->on_client_packet(ref, tuple,
                                core::Bytes(b.payload(unsigned(i)), b.length(unsigned(i))), t);
    }
    b.keep(unsigned(n));  // the queue may point into them until flush_sends()
    if (n < int(RecvBatch::kCount)) break;
  }
  deferring_ = false;
}

void Worker::on_relay_readable(evutil_socket_t, short, void* arg) {
  auto* s = static_cast<relay::RelaySocket*>(arg);
  s->worker->drain_relay(*s);
}

void Worker::drain_relay(relay::RelaySocket& s) {
  const relay::Now t = now();
  RecvBatch& b = *batch_;
  deferring_ = true;
  for (int round = 0; round < 4; ++round) {
    if (b.full()) flush_sends();  // every slot holds a queued datagram: send them first
    const int n = b.receive(s.fd.get());
    for (int i = 0; i < n; ++i) {
      if (b.truncated(unsigned(i))) continue;
      auto src =
          core::SocketAddress::from_sockaddr(b.source(unsigned(i)), b.source_len(unsigned(i)));
      if (!src) continue;
      server_->on_peer_packet(*s.owner, s.index, *src, b.payload(unsigned(i)),
                              b.length(unsigned(i)), t);
    }
    b.keep(unsigned(n));
    if (n < int(RecvBatch::kCount)) break;
  }
  deferring_ = false;
}

relay::OpenRelayResult Worker::open_relay(relay::Allocation& owner, uint8_t index,
                                          const relay::OpenRelayRequest& r) {
  relay::OpenRelayResult res;
  if (r.tcp) {
    // RFC 6062 §5.1: peers connect to the relayed address of a TCP allocation.
    auto listener = shared_.ports.bind_tcp_listener(r.bind_ip);
    if (!listener) {
      res.error = core::error::InsufficientCapacity;
      log(LogLevel::Warning, "no free TCP relay port on ", r.bind_ip.to_string(),
          " (min-port/max-port range exhausted?)");
      return res;
    }
    auto* s = new relay::RelaySocket;
    s->fd = std::move(listener->fd);
    s->worker = this;
    s->owner = &owner;
    s->index = index;
    s->tcp = true;
    s->bound = listener->address;
    s->ev.reset(
        event_new(base_.get(), s->fd.get(), EV_READ | EV_PERSIST, &Worker::on_relay_acceptable, s));
    event_add(s->ev.get(), nullptr);
    res.socket = s;
    res.bound = listener->address;
    return res;
  }
  std::optional<BoundSocket> bound;
  uint64_t token = 0;
  if (r.reservation_token) {
    bound = shared_.ports.take(*r.reservation_token);
    if (!bound) {
      res.error = core::error::InsufficientCapacity;  // RFC 8656 §7.2: unknown token
      return res;
    }
  } else {
    bound = shared_.ports.bind(r.bind_ip, r.even_port, r.reserve_next, &token, now().mono_ms);
    if (!bound) {
      res.error = core::error::InsufficientCapacity;
      log(LogLevel::Warning, "no free relay port on ", r.bind_ip.to_string(),
          " (min-port/max-port range exhausted?)");
      return res;
    }
  }
  if (r.dont_fragment) set_dont_fragment(bound->fd.get(), bound->address.family());
  auto* s = new relay::RelaySocket;
  s->fd = std::move(bound->fd);
  s->worker = this;
  s->owner = &owner;
  s->index = index;
  s->ev.reset(
      event_new(base_.get(), s->fd.get(), EV_READ | EV_PERSIST, &Worker::on_relay_readable, s));
  event_add(s->ev.get(), nullptr);
  res.socket = s;
  res.bound = bound->address;
  if (token) res.reservation_token = token;
  return res;
}

void Worker::close_relay(relay::RelaySocket* s) {
  // Queued sends name the socket by fd: send them before the fd is closed (and maybe reused by a
  // socket opened later in the same round).
  sender_.flush();
  if (s->tcp) shared_.ports.release_tcp(s->bound);
  if (s->paused_until_ms) std::erase(paused_relays_, s);
  delete s;  // frees the event (removing it from the base), then closes the fd
}

void Worker::send_to_peer(relay::RelaySocket* s, const core::SocketAddress& peer,
                          core::Bytes payload) {
  send_udp(s->fd.get(), peer, payload);
}

void Worker::send_udp(int fd, const core::SocketAddress& to, core::Bytes data) {
  // Relayed data is framed in place in its receive slot (relay::Server::kHeadroom), which stays
  // valid until flush_sends(): queue it so that the round leaves in a few (GSO) sends. Responses
  // are built in scratch buffers that the next request overwrites: they go now.
  if (deferring_ && batch_->holds(data.data())) {
    sender_.queue(fd, to, data);
    return;
  }
  if (!send_datagram(fd, to, data)) ++send_drops_;
}

void Worker::send_to_client(const relay::ClientRef& c, core::Bytes message) {
  static_cast<ClientTransport*>(c.transport)->send(c.address, message);
}

// ---- RFC 6062 ---------------------------------------------------------------------------------

void Worker::on_relay_acceptable(evutil_socket_t, short, void* arg) {
  auto* s = static_cast<relay::RelaySocket*>(arg);
  s->worker->accept_peers(*s);
}

void Worker::accept_peers(relay::RelaySocket& s) {
  const relay::Now t = now();
  // A bounded number per wake-up; the listener stays readable for the rest.
  for (int i = 0; i < 16; ++i) {
    sockaddr_storage ss;
    socklen_t len = sizeof ss;
    UniqueFd fd(::accept4(s.fd.get(), reinterpret_cast<sockaddr*>(&ss), &len,
                          SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors: the listener stays readable, so stop watching it for a second
        // rather than spin (the peer waits in the backlog; the tick resumes it).
        if (log_budget_.take(t.mono_ms)) {
          log(LogLevel::Warning, "cannot accept a peer on ", s.bound.to_string(), ": ",
              std::strerror(errno), " (raise LimitNOFILE / ulimit -n?)");
        }
        if (!s.paused_until_ms) {
          event_del(s.ev.get());
          paused_relays_.push_back(&s);
        }
        s.paused_until_ms = t.mono_ms + 1000;
      }
      return;
    }
    auto peer = core::SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
    if (!peer) continue;
    const int one = 1;
    setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto stream = std::make_unique<Stream>(std::move(fd), TcpPeerConnection::limits());
    TcpPeerConnection& c = connections_->add(std::make_unique<TcpPeerConnection>(
        *this, std::move(stream), *peer, TcpPeerConnection::State::Pending, 0));
    // The relay checks the permission (RFC 6062 §5.3) and either sends the ConnectionAttempt or
    // closes the connection (close_peer).
    const uint32_t id = server_->on_peer_accepted(*s.owner, &c, *peer, t);
    if (!id) continue;
    c.set_id(id);
    if (!c.start()) server_->on_peer_closed(id, t);
  }
}

relay::PeerConnection* Worker::connect_peer(uint32_t id, const core::SocketAddress& from,
                                            const core::SocketAddress& peer) {
  std::string error;
  auto c = TcpPeerConnection::connect(*this, id, from, peer, &error);
  if (!c) {
    log(LogLevel::Info, "tcp peer ", peer.to_string(), ": ", error);
    return nullptr;
  }
  TcpPeerConnection& ref = connections_->add(std::move(c));
  if (!ref.start()) {
    connections_->close(ref);
    return nullptr;
  }
  return &ref;
}

void Worker::bind_peer(relay::PeerConnection* p, const relay::ClientRef& data) {
  if (StreamConnection* s = static_cast<ClientTransport*>(data.transport)->as_stream()) {
    s->detach_to_peer(static_cast<TcpPeerConnection*>(p));
  }
}

void Worker::close_peer(relay::PeerConnection* p) {
  static_cast<TcpPeerConnection*>(p)->close_by_relay();
}

bool Worker::move_client(const relay::ClientRef& c, uint8_t worker, core::Bytes) {
  // The message goes along with the connection's unread bytes (StreamConnection::hand_off).
  StreamConnection* s = static_cast<ClientTransport*>(c.transport)->as_stream();
  if (!s || worker == 0 || worker > shared_.workers.size() || shared_.workers[worker - 1] == this)
    return false;
  return s->detach_to_worker(*shared_.workers[worker - 1]);
}

void Worker::adopt(MovingClient moved) {
  const relay::Now t = now();
  auto c = std::make_unique<StreamConnection>(*this, std::move(moved), t.mono_ms);
  StreamConnection& ref = connections_->add(std::move(c));
  if (!ref.start(t)) connections_->close(ref);
}

}  // namespace turnpike::net
