// The TURN server state machine of one worker (RFC 8656, over RFC 8489 STUN). It owns the
// allocations of the clients the kernel hashes to this worker; no other thread touches them, and
// nothing on the relay path (ChannelData, Send, peer data) locks. Two objects it is given are
// shared by all workers and lock inside: QuotaBook (Allocate and an allocation's end) and
// ConnectionIds (RFC 6062 Connect, a peer connecting, ConnectionBind), both control path only.
// It does no I/O: bytes come in through on_*, go out through RelayIo, time comes in as Now and
// randomness as a core::Random.
#pragma once

#include <array>
#include <functional>
#include <string>
#include <vector>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/handover_state.h"
#include "core/random.h"
#include "core/stateless_nonce.h"
#include "core/stun_message.h"
#include "core/stun_writer.h"
#include "relay/allocation.h"
#include "relay/authenticator.h"
#include "relay/connection_ids.h"
#include "relay/events.h"
#include "relay/keyed_hash.h"
#include "relay/offload.h"
#include "relay/peer_policy.h"
#include "relay/quota.h"
#include "relay/rate_limiter.h"
#include "relay/relay_io.h"
#include "relay/settings.h"
#include "relay/tcp_connection.h"
#include "relay/timer_wheel.h"

namespace turnpike::relay {

// Counters a worker keeps for itself (read by the stats reporter; never shared while hot).
struct ServerStats {
  uint64_t malformed = 0;  // dropped before parsing succeeded
  uint64_t unauth_rate_limited = 0;
  uint64_t no_permission = 0;  // data dropped: no permission / no channel
  uint64_t allocations_created = 0;
  uint64_t tcp_connections = 0;  // peer TCP connections made or accepted (RFC 6062)
  uint64_t tcp_refused = 0;      // peers connecting without a permission, or over the limit
  uint64_t oversized_unauthenticated = 0;  // answers not sent: larger than request + margin
  uint64_t relayed = 0;          // datagrams relayed here, both ways (not those of the kernel)
};

class Server {
 public:
  // Bytes that must be free before, and after, every payload handed to on_peer_packet: the
  // relay writes the ChannelData or Data-indication header in front of the payload and the
  // padding behind it, so peer data reaches the client without a copy.
  static constexpr size_t kHeadroom = 64;
  static constexpr size_t kTailroom = 8;

  // `worker_id` (never 0) names this worker in `connection_ids`, which all workers share.
  // `random` (not owned; the daemon passes core::system_random(), tests and fuzzers a
  // core::SeededRandom) keys the tables' hash and seeds the rate limiter and transaction ids.
  Server(const Settings& settings, const PeerPolicy& policy, CredentialsPtr credentials,
         const core::NonceCodec& nonces, RelayIo& io, EventSink& events, QuotaBook& quotas,
         ConnectionIds& connection_ids, uint8_t worker_id, core::Random& random);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // A datagram (UDP) or one framed message (TCP/TLS) from a client.
  void on_client_packet(const ClientRef& client, const FiveTuple& tuple, core::Bytes data,
                        const Now& now);
  // Data from a peer on relay socket `index` of `a`. `payload` has kHeadroom writable bytes
  // before it and kTailroom after it.
  void on_peer_packet(Allocation& a, uint8_t index, const SocketAddress& peer, uint8_t* payload,
                      size_t len, const Now& now);
  // A TCP/TLS client connection closed: its allocation goes with it (RFC 8656 §3.1).
  void on_client_closed(const FiveTuple& tuple, const Now& now);
  // ---- RFC 6062 TCP relay (tcp_relay.cc); `id` is a CONNECTION-ID this server issued. Calls
  // for ids it no longer knows are ignored (the connection ended meanwhile).
  // The connect of connection `id` (RelayIo::connect_peer) succeeded or failed.
  void on_peer_connected(uint32_t id, bool ok, const Now& now);
  // A peer connected to the relayed address of TCP allocation `a` (RFC 6062 §5.3). Returns the
  // connection's id, or 0 when it is refused (then `p` has been given to close_peer).
  uint32_t on_peer_accepted(Allocation& a, PeerConnection* p, const SocketAddress& peer,
                            const Now& now);
  // The peer connection (or, when bound, its data connection) closed or failed.
  void on_peer_closed(uint32_t id, const Now& now);
  // Bytes a bound connection relayed: from the client to the peer and back.
  void on_tcp_relayed(uint32_t id, size_t to_peer, size_t to_client);

  // Expires allocations, permissions and channels, and RFC 6062 connect and ConnectionBind
  // deadlines. Call about once a second. Its work is proportional to what is due (a TimerWheel),
  // not to how many allocations there are.
  void tick(const Now& now);
  // Timers the ticks have looked at in all (TimerWheel::visits): the tick's cost, for tests and
  // the relay benchmark.
  uint64_t timer_visits() const { return wheel_.visits(); }
  // Ends every allocation with EndReason::Shutdown.
  void shutdown(const Now& now);
  // Draining (turnpike-admin drain, SIGUSR1): Allocate is refused from now on, with 300 Try
  // Alternate and ALTERNATE-SERVER when settings name an alternate server of the client's family,
  // else 403; allocations that exist go on relaying and refreshing.
  void set_draining(bool on) { draining_ = on; }
  bool draining() const { return draining_; }
  // Ends, with `why`, every allocation for which `pick(const Allocation&)` is true; returns how
  // many (turnpike-admin disconnect).
  template <typename F>
  size_t end_allocations(F&& pick, EndReason why, const Now& now) {
    std::vector<Allocation*> chosen;
    for (const auto& [_, a] : allocations_) {
      if (pick(static_cast<const Allocation&>(*a))) chosen.push_back(a.get());
    }
    for (Allocation* a : chosen) end_allocation(*a, why, now);
    return chosen.size();
  }

  void set_credentials(CredentialsPtr c) { auth_.set_credentials(std::move(c)); }
  // The kernel fast path (relay/offload.h), or null (the default): every channel bound from now
  // on is offered to it. Not owned; it must outlive the allocations.
  void set_offload(ChannelOffload* o) { offload_ = o; }
  // Adds what the kernel relayed for `a`'s channels (or every allocation's) to its counters,
  // before they are reported. The work is proportional to the flows installed: allocations
  // without one are not looked at.
  void collect_offloaded(Allocation& a);
  void collect_offloaded();
  size_t offloaded_allocation_count() const { return offloaded_.size(); }
  size_t allocation_count() const { return allocations_.size(); }
  size_t tcp_connection_count() const { return tcp_.size(); }
  const TcpConnection* find_tcp(uint32_t id) const;
  Allocation* find(const FiveTuple& t);
  const ServerStats& stats() const { return stats_; }
  // How many bytes larger than its request an answer before authentication may be.
  size_t unauthenticated_margin() const;
  // ---- Hand-over to a new process (relay/handover.cc; DESIGN.md "Restart and upgrade").
  // Whether `a` can go on in another process: a UDP client's allocation. Connections (TCP, TLS,
  // DTLS clients, RFC 6062 peers) stay with this process and end here.
  static bool can_hand_over(const Allocation& a);
  // The state of `a`, with `fd_of` numbering its relay sockets among those sent. What the
  // kernel relayed for it is counted first.
  core::HandoverAllocation export_allocation(Allocation& a, uint16_t worker,
                                             const std::function<uint32_t(RelaySocket*)>& fd_of);
  // After another process took over: every allocation that could be handed over is forgotten
  // without an end (the other process goes on with it and its ledger row), its sockets closed
  // here only; the others end with EndReason::Shutdown.
  void release_handed_over(const Now& now);
  // Takes over allocation `h` from the process before, reached through `client`; its relay
  // sockets come from RelayIo::adopt_relay. Returns what was wrong, empty on success.
  std::string restore(const core::HandoverAllocation& h, const ClientRef& client, const Now& now);
  // The session counter and the counters of stats(), carried over too.
  uint64_t next_session() const { return next_session_; }
  std::vector<uint64_t> export_stats() const;
  void restore_counters(uint64_t next_session, const std::vector<uint64_t>& stats);

  template <typename F>
  void for_each_allocation(F&& f) const {
    for (const auto& [_, a] : allocations_) f(*a);
  }

 private:
  struct Request;  // one STUN request being answered; defined in server.cc

  void on_stun(const ClientRef& client, const FiveTuple& tuple, const core::StunMessage& m,
               const Now& now);
  void on_channel_data(const FiveTuple& tuple, core::Bytes data, const Now& now);

  // Handlers, one per method (allocate.cc, permissions.cc, data_path.cc).
  void handle_binding(Request& r);
  void handle_allocate(Request& r);
  void refuse_draining(Request& r);
  void reply_allocate_success(Request& r, Allocation& a);
  void handle_refresh(Request& r);
  void handle_create_permission(Request& r);
  void handle_channel_bind(Request& r);
  void handle_send_indication(Allocation& a, const core::StunMessage& m, const Now& now);
  // RFC 6062 (tcp_relay.cc).
  void handle_connect(Request& r);
  void handle_connection_bind(Request& r);
  TcpConnection& add_tcp(Allocation& a, PeerConnection* p, uint32_t id, const SocketAddress& peer,
                         TcpConnection::State state, int64_t deadline_ms, int64_t now_ms);
  // Closes the connection's socket and forgets it (and its id).
  void close_tcp(uint32_t id);
  // Answers a Connect after the fact: success with CONNECTION-ID, or an error.
  void answer_connect(const TcpConnection& c, uint16_t error);
  void send_connection_attempt(const TcpConnection& c);
  // A connection's deadline came (RFC 6062 §5.2: 447; §5.2, §5.3: closed unbound).
  void expire_tcp(TcpConnection& c, const Now& now);
  // The client address of the control connection whose allocation owns the CONNECTION-ID of
  // ConnectionBind `m`, if it is on the same host as `client`.
  std::optional<SocketAddress> control_connection_of(const core::StunMessage& m,
                                                     const SocketAddress& client) const;

  // Answers.
  core::StunWriter begin(Request& r, core::MessageClass c);
  void finish(Request& r, core::StunWriter& w);
  // The end of every response (finish(), and the Connect answer that comes later):
  // MESSAGE-INTEGRITY or -SHA256 with `key` when the exchange is authenticated (null: not),
  // FINGERPRINT when the request had one; then sent, and a signed answer remembered by `alloc`
  // for retransmissions of the request.
  // `limit` (0: none): an answer larger than this many bytes is not sent (see finish()).
  void seal_and_send(core::StunWriter& w, const ClientRef& client, const uint8_t* txid,
                     Allocation* alloc, const core::LongTermKey* key, bool sha256,
                     bool fingerprint, size_t limit = 0);
  void reply_error(Request& r, uint16_t code);
  void challenge(Request& r, uint16_t code);  // 401 or 438 with REALM, NONCE, PASSWORD-ALGORITHMS
  bool unauth_budget(Request& r);
  void refuse(Request& r, uint16_t code, RefusalReason why, std::string_view detail,
              const std::optional<SocketAddress>& peer = std::nullopt);

  // Allocation lifecycle.
  void end_allocation(Allocation& a, EndReason why, const Now& now);
  // Its earliest deadline came: expire what is due (the allocation itself, permissions,
  // channels, kernel flows), then wait for the next one.
  void expire_allocation(Allocation& a, const Now& now);
  // The earliest of its deadlines (RFC 8656 §7, §9, §12).
  static int64_t next_deadline(Allocation& a);
  // A deadline of `a` was set or moved: its timer goes to its earliest deadline. A look over its
  // tables (bounded by max-permissions and max-channels), on the control path only.
  void rearm(Allocation& a, int64_t now_ms) { wheel_.schedule(a, next_deadline(a), now_ms); }
  bool peer_family_ok(const Allocation& a, const SocketAddress& peer) const {
    return a.has_family(peer.family());
  }
  bool permitted(Allocation& a, const IpAddress& peer, int64_t now_ms, Permission** out);
  // After the credential expired (credential_expiry.cc): false when the request was refused.
  bool within_expired_grace(Request& r);
  bool known_peer_after_expiry(Request& r, const IpAddress& peer);
  // The kernel fast path (offload.cc): hands a bound channel to it or moves its deadline; takes
  // it back, counting what it relayed.
  void offload_channel(Allocation& a, Channel& c);
  void unoffload_channel(Allocation& a, Channel& c);
  // The flow of `c` (which has one) leaves the kernel; `n` gets its last counts, uncounted.
  void remove_offload(Allocation& a, Channel& c, OffloadCounts& n);
  void count_offloaded(Allocation& a, const Channel& c, const OffloadCounts& n);
  void install_permission(Allocation& a, const IpAddress& peer, int64_t now_ms);
  std::optional<IpAddress> choose_relay_ip(Family f, const IpAddress& reached) const;
  uint32_t granted_lifetime(const core::StunMessage& m, bool* malformed) const;
  void fill_indication_txid(uint8_t* out);

  const Settings& settings_;
  const PeerPolicy& policy_;
  Authenticator auth_;
  RelayIo& io_;
  EventSink& events_;
  ChannelOffload* offload_ = nullptr;
  QuotaBook& quotas_;
  UnauthRateLimiter limiter_;
  ConnectionIds& connection_ids_;
  uint8_t worker_id_;
  HashKey hash_key_;  // of every allocation's tables (relay/keyed_hash.h)
  uint64_t next_session_ = 1;
  bool draining_ = false;
  uint64_t txid_state_;
  ServerStats stats_;
  TimerWheel wheel_;  // before the objects it times, which unhook themselves when destroyed
  std::vector<Allocation*> offloaded_;  // allocations with a channel in the kernel
  std::unordered_map<FiveTuple, std::unique_ptr<Allocation>, FiveTupleHash> allocations_;
  std::unordered_map<uint32_t, TcpConnection> tcp_;  // by CONNECTION-ID (RFC 6062)
  std::array<uint8_t, 2048> out_{};                  // scratch for building responses
};

}  // namespace turnpike::relay
