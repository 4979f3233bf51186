// Relay ports: choosing and binding them (RFC 8656 §7.2: 49152-65535 by default, chosen
// unpredictably), and keeping the second of an EVEN-PORT pair for a RESERVATION-TOKEN.
// Shared by all workers; the kernel's bind() arbitrates between them, so choosing needs no lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "core/socket_address.h"
#include "net/unique_fd.h"

namespace turnpike::net {

struct BoundSocket {
  UniqueFd fd;
  core::SocketAddress address;
};

class RelayPorts {
 public:
  static constexpr int kRelayReceiveBuffer = 512 * 1024;  // SO_RCVBUF of relay sockets

  RelayPorts(uint16_t min_port, uint16_t max_port) : min_(min_port), max_(max_port) {}

  // A UDP socket on `ip` at a random free port of the range (an even one if asked). With
  // `reserve_next`, port+1 is bound too and kept under a new token (returned in `token`).
  std::optional<BoundSocket> bind(const core::IpAddress& ip, bool even, bool reserve_next,
                                  uint64_t* token, int64_t now_ms);

  // The socket kept under `token` (RFC 8656 §7.2: a RESERVATION-TOKEN names it); std::nullopt
  // for an unknown or expired token.
  std::optional<BoundSocket> take(uint64_t token);

  // Reservations are held for 30 seconds (RFC 8656 §7.2 step 8). Every reservation has that one
  // lifetime, so the order they were made in is the order they expire in: expire() looks only at
  // those due (and at tokens taken meanwhile), never at every reservation.
  static constexpr int64_t kReservationMs = 30'000;
  void expire(int64_t now_ms);
  size_t reservation_count() const;

  // RFC 6062 §5.1: a listening TCP socket on `ip` at a random free port of the range, the
  // relayed address of a TCP allocation. It has SO_REUSEPORT so that the connections a Connect
  // makes can start from that same address (RFC 6062 §5.2). SO_REUSEPORT would also let a second
  // listener of this process share the port, so the ports handed out are remembered here and
  // never handed out twice; a plain bind() first proves that nobody else holds the port.
  // Give the address back with release_tcp() when the socket is closed.
  std::optional<BoundSocket> bind_tcp_listener(const core::IpAddress& ip);
  void release_tcp(const core::SocketAddress& addr);
  size_t tcp_listener_count() const;

 private:
  uint16_t min_;
  uint16_t max_;
  mutable std::mutex mu_;  // reservations and TCP listeners only
  struct Reservation {
    BoundSocket socket;
    int64_t expires_ms;
  };
  std::unordered_map<uint64_t, Reservation> reservations_;
  struct Due {
    int64_t expires_ms;
    uint64_t token;
  };
  std::deque<Due> expiry_order_;  // oldest first; tokens already taken are skipped
  std::unordered_set<core::SocketAddress, core::SocketAddressHash> tcp_in_use_;  // under mu_
};

}  // namespace turnpike::net
