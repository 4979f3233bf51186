// One worker thread (DESIGN.md "Threading"): its own event_base, its own SO_REUSEPORT
// listening sockets, the relay state of the clients the kernel hashes to it, their relay
// sockets, and one coarse timer. Other threads talk to it only through its mailbox.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/handover_state.h"
#include "net/client_transport.h"
#include "net/connection_set.h"
#include "net/ledger_sink.h"
#include "net/libevent_ptr.h"
#include "net/log_budget.h"
#include "net/mailbox.h"
#include "net/offload/flow_table.h"
#include "net/shared_state.h"
#include "net/stream_loop.h"
#include "net/tcp_listener.h"
#include "net/tls_context.h"
#include "net/udp.h"
#include "net/udp_sender.h"
#include "net/unique_fd.h"
#include "net/unique_function.h"
#include "net/worker_events.h"
#include "net/worker_metrics.h"
#include "relay/relay_io.h"
#include "relay/server.h"

namespace turnpike::net {
class Worker;
}

namespace turnpike::relay {
// Defined by the network layer: a relay socket and the allocation it belongs to. For a TCP
// allocation (RFC 6062) it is the listening socket on the relayed address.
struct RelaySocket {
  net::UniqueFd fd;
  net::EventPtr ev;
  net::Worker* worker = nullptr;
  Allocation* owner = nullptr;
  uint8_t index = 0;
  bool tcp = false;
  core::SocketAddress bound;  // TCP: given back to RelayPorts when closed
  int64_t paused_until_ms = 0;  // TCP: not accepting until then (out of descriptors)
};
}  // namespace turnpike::relay

namespace turnpike::net {

class Worker;
class DtlsListener;
struct MovingClient;

// A job for a worker's thread (Worker::post); move-only (unique_function.h).
using WorkerJob = UniqueFunction<void(Worker&)>;

class UdpListener final : public ClientTransport {
 public:
  UdpListener(Worker& w, UniqueFd fd, core::SocketAddress local)
      : worker_(w), fd_(std::move(fd)), local_(local) {}
  void send(const core::SocketAddress& to, core::Bytes data) override;
  relay::Transport kind() const override { return relay::Transport::Udp; }
  int fd() const { return fd_.get(); }
  const core::SocketAddress& local() const { return local_; }
  Worker& worker() { return worker_; }
  EventPtr ev;

 private:
  Worker& worker_;
  UniqueFd fd_;
  core::SocketAddress local_;
};

class Worker final : public relay::RelayIo {
 public:
  Worker(unsigned index, SharedState& shared, relay::CredentialsPtr credentials, std::string realm);
  ~Worker() override;

  // Records this worker's sessions and refusals in the ledger (before start()).
  void attach_ledger(ledger::Producer& p);
  // Hands this worker's bound channels to the kernel fast path, in flow slots [first,
  // first + count) of `k` (before start()).
  void attach_offload(KernelOffload& k, uint32_t first, uint32_t count);

  // Binds this worker's listener on `addr` (called before the thread starts, so that errors
  // surface at start-up and ports below 1024 are bound before privileges drop).
  std::string listen_udp(const core::SocketAddress& addr);
  // The same for a TCP listener (plain, TLS, the shared port, PROXY-protocol ports) and for
  // DTLS on udp.
  std::string listen_stream(const StreamListenerSpec& spec);
  std::string listen_dtls(const core::SocketAddress& addr);

  // The certificate new TLS/DTLS handshakes use. Called before start(), then on this worker's
  // thread (post) when certificates are reloaded; connections keep the one they started with.
  void set_tls(TlsContextsPtr t) { tls_ = std::move(t); }
  const TlsContextsPtr& tls() const { return tls_; }

  // ---- Hand-over (DESIGN.md "Restart and upgrade without dropping calls").
  // Before start(), in a process taking over: the listeners the process before passed, instead
  // of listen_*().
  void adopt_udp(UniqueFd fd, const core::SocketAddress& addr);
  void adopt_stream(const StreamListenerSpec& spec, UniqueFd fd);
  void adopt_dtls(UniqueFd fd, const core::SocketAddress& addr);
  // Before start(): takes over allocation `h`; its relay sockets are taken from `fds`.
  std::string restore(const core::HandoverAllocation& h, std::vector<UniqueFd>& fds);
  // On this worker's thread, in the process handing over: this worker's part of the state,
  // listeners and the allocations that can go on elsewhere, their sockets numbered in `fds`
  // (which stay open here until release()).
  void export_state(core::HandoverState& out, std::vector<int>& fds);
  // On this worker's thread, after another process took over: forgets what it took, ends the
  // rest (TCP, TLS, DTLS clients) with EndReason::Shutdown, and leaves the loop at once, so
  // that nothing more is read from the sockets both processes hold.
  void release();

  void start();
  void join();
  // Runs `job` on the worker's thread. Thread-safe.
  void post(WorkerJob job);
  // Ends every session (reason: shutdown) and leaves the event loop.
  void request_stop();

  relay::Server& server() { return *server_; }
  event_base* base() { return base_.get(); }
  unsigned index() const { return index_; }
  WorkerEvents& events() { return events_; }
  // On this worker's thread (post): its figures for /metrics and turnpike-admin status.
  void snapshot_metrics(MetricsSnapshot* out) { metrics_.snapshot(*server_, index_, out); }

  // relay::RelayIo
  relay::OpenRelayResult open_relay(relay::Allocation& owner, uint8_t index,
                                    const relay::OpenRelayRequest& r) override;
  void close_relay(relay::RelaySocket* s) override;
  relay::RelaySocket* adopt_relay(relay::Allocation& owner, uint8_t index, uint32_t fd) override;
  void send_to_peer(relay::RelaySocket* s, const core::SocketAddress& peer,
                    core::Bytes payload) override;
  void send_to_client(const relay::ClientRef& c, core::Bytes message) override;
  relay::PeerConnection* connect_peer(uint32_t id, const core::SocketAddress& from,
                                      const core::SocketAddress& peer) override;
  void bind_peer(relay::PeerConnection* p, const relay::ClientRef& data) override;
  void close_peer(relay::PeerConnection* p) override;
  bool move_client(const relay::ClientRef& c, uint8_t worker, core::Bytes message) override;

  // RFC 6062: takes up a client connection that another worker moved here (move_client), on
  // this worker's thread (post).
  void adopt(MovingClient moved);

  uint64_t send_drops() const { return send_drops_ + sender_.stats().dropped; }
  const UdpSender::Stats& send_stats() const { return sender_.stats(); }
  void count_send_drop() { ++send_drops_; }

  // For the TCP/TLS/DTLS side (stream_connection, dtls_listener, web_proxy).
  ConnectionSet& connections() { return *connections_; }
  StreamLoop& stream_loop() { return stream_loop_; }
  ConnectionLimits& limits() { return shared_.connections; }
  const StreamSettings& stream_settings() const { return shared_.streams; }
  const core::DtlsCookie& dtls_cookie() const { return shared_.dtls_cookie; }
  LogBudget& log_budget() { return log_budget_; }
  // The receive batch, with room for one receive(): kept slots are flushed first if needed.
  RecvBatch& batch() {
    if (batch_->full()) flush_sends();
    return *batch_;
  }

 private:
  static void on_listener_readable(evutil_socket_t fd, short what, void* arg);
  static void on_relay_readable(evutil_socket_t fd, short what, void* arg);
  static void on_relay_acceptable(evutil_socket_t fd, short what, void* arg);
  void accept_peers(relay::RelaySocket& s);
  static void on_tick(evutil_socket_t fd, short what, void* arg);
  void drain_listener(UdpListener& l);
  void drain_relay(relay::RelaySocket& s);
  // Sends a datagram from a UDP socket of this worker: deferred to the end of the receive batch
  // when the bytes are still in a receive slot (relayed data), at once otherwise.
  void send_udp(int fd, const core::SocketAddress& to, core::Bytes data);
  // Sends what send_udp() queued and frees the receive slots it pointed into, and what the
  // round queued on streams (stream_loop.h).
  void flush_sends();
  // Lets the ledger's progress records count what the kernel relayed (both attached).
  void offload_progress();

  friend class UdpListener;

  unsigned index_;
  SharedState& shared_;
  EventBasePtr base_;
  StreamLoop stream_loop_;  // outlives every stream (connections_ is destroyed first)
  std::vector<std::unique_ptr<UdpListener>> udp_;
  std::unique_ptr<RecvBatch> batch_;
  UdpSender sender_;        // relayed datagrams of this event-loop round (udp_sender.h)
  bool deferring_ = false;  // inside a drain_*(): sends of slot bytes wait for flush_sends()
  WorkerEvents events_;
  WorkerMetrics metrics_;  // chained after events_, before the ledger
  std::unique_ptr<LedgerSink> ledger_;
  std::unique_ptr<FlowTable> flows_;       // the kernel fast path's slots; outlives server_
  std::unique_ptr<relay::Server> server_;  // destroyed before the base (closes relay sockets)
  EventPtr tick_;
  // TCP/TLS/DTLS: listeners, then the connections (destroyed before the listeners they use).
  std::vector<std::unique_ptr<TcpListener>> tcp_;
  // RFC 6062 relay listeners that stopped accepting on EMFILE/ENFILE, resumed by the tick.
  std::vector<relay::RelaySocket*> paused_relays_;
  void resume_paused_relays(int64_t now_ms);
  std::vector<std::unique_ptr<DtlsListener>> dtls_;
  std::unique_ptr<ConnectionSet> connections_;
  TlsContextsPtr tls_;
  LogBudget log_budget_;
  std::unique_ptr<Mailbox> mailbox_;
  std::thread thread_;
  uint64_t send_drops_ = 0;
  std::vector<UniqueFd>* adopting_ = nullptr;  // during restore(): the sockets passed
};

}  // namespace turnpike::net
