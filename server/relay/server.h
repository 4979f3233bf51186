// The TURN server state machine of one worker (RFC 8656, over RFC 8489 STUN). It owns the
// allocations of the clients the kernel hashes to this worker; no other thread touches them,
// so nothing here locks. It does no I/O: bytes come in through on_*, go out through RelayIo,
// time comes in as Now.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <unordered_map>

#include "core/stateless_nonce.h"
#include "core/stun_message.h"
#include "core/stun_writer.h"
#include "relay/allocation.h"
#include "relay/authenticator.h"
#include "relay/events.h"
#include "relay/peer_policy.h"
#include "relay/quota.h"
#include "relay/rate_limiter.h"
#include "relay/relay_io.h"
#include "relay/settings.h"

namespace turnpike::relay {

// Counters a worker keeps for itself (read by the stats reporter; never shared while hot).
struct ServerStats {
  uint64_t malformed = 0;          // dropped before parsing succeeded
  uint64_t unauth_rate_limited = 0;
  uint64_t no_permission = 0;      // data dropped: no permission / no channel
  uint64_t allocations_created = 0;
};

class Server {
 public:
  // Bytes that must be free before, and after, every payload handed to on_peer_packet: the
  // relay writes the ChannelData or Data-indication header in front of the payload and the
  // padding behind it, so peer data reaches the client without a copy.
  static constexpr size_t kHeadroom = 64;
  static constexpr size_t kTailroom = 8;

  Server(const Settings& settings, const PeerPolicy& policy, CredentialsPtr credentials,
         const core::NonceCodec& nonces, RelayIo& io, EventSink& events, QuotaBook& quotas,
         uint8_t worker_id);
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
  // Expires allocations, permissions and channels. Call about once a second.
  void tick(const Now& now);
  // Ends every allocation with EndReason::Shutdown.
  void shutdown(const Now& now);

  void set_credentials(CredentialsPtr c) { auth_.set_credentials(std::move(c)); }
  size_t allocation_count() const { return allocations_.size(); }
  Allocation* find(const FiveTuple& t);
  const ServerStats& stats() const { return stats_; }
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
  void reply_allocate_success(Request& r, Allocation& a);
  void handle_refresh(Request& r);
  void handle_create_permission(Request& r);
  void handle_channel_bind(Request& r);
  void handle_send_indication(Allocation& a, const core::StunMessage& m, const Now& now);

  // Answers.
  core::StunWriter begin(Request& r, core::MessageClass c);
  void finish(Request& r, core::StunWriter& w);
  void reply_error(Request& r, uint16_t code);
  void challenge(Request& r, uint16_t code);  // 401 or 438 with REALM, NONCE, PASSWORD-ALGORITHMS
  bool unauth_budget(Request& r);
  void refuse(Request& r, uint16_t code, RefusalReason why, std::string_view detail,
              const std::optional<SocketAddress>& peer = std::nullopt);

  // Allocation lifecycle.
  void end_allocation(Allocation& a, EndReason why, const Now& now);
  bool peer_family_ok(const Allocation& a, const SocketAddress& peer) const {
    return a.has_family(peer.family());
  }
  bool permitted(Allocation& a, const IpAddress& peer, int64_t now_ms, Permission** out);
  void install_permission(Allocation& a, const IpAddress& peer, int64_t now_ms);
  std::optional<IpAddress> choose_relay_ip(Family f, const IpAddress& reached) const;
  uint32_t granted_lifetime(const core::StunMessage& m, bool* malformed) const;
  void fill_indication_txid(uint8_t* out);

  const Settings& settings_;
  const PeerPolicy& policy_;
  Authenticator auth_;
  RelayIo& io_;
  EventSink& events_;
  QuotaBook& quotas_;
  UnauthRateLimiter limiter_;
  uint8_t worker_id_;
  uint64_t next_session_ = 1;
  uint64_t txid_state_;
  ServerStats stats_;
  std::unordered_map<FiveTuple, std::unique_ptr<Allocation>, FiveTupleHash> allocations_;
  std::array<uint8_t, 2048> out_{};  // scratch for building responses
};

}  // namespace turnpike::relay
