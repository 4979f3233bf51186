#include "net/relay_ports.h"

#include <algorithm>
#include <utility>

#include <netinet/in.h>
#include <sys/socket.h>

#include "core/random.h"
#include "net/sockets.h"
#include "net/udp.h"

namespace turnpike::net {

std::optional<BoundSocket> RelayPorts::bind(const core::IpAddress& ip, bool even, bool reserve_next,
                                            uint64_t* token, int64_t now_ms) {
  const uint32_t span = uint32_t(max_) - min_ + 1;
  // Start at a random port and walk the range: the first attempts almost always succeed, and
  // a full range is reported after a bounded number of tries.
  uint32_t offset = uint32_t(core::random_u64() % span);
  const uint32_t tries = std::min<uint32_t>(span, 4096);
  // One socket for all the attempts: a port in use costs one failed bind(), not a socket() and
  // a close() as well (with most of the range taken, most first attempts fail).
  UniqueFd fd;
  for (uint32_t i = 0; i < tries; ++i) {
    uint32_t port = min_ + (offset + i) % span;
    if (even && (port % 2) != 0) continue;
    if (reserve_next && port + 1 > max_) continue;
    if (!fd) {
      // The two halves of open_udp(): a failed bind() leaves the socket unbound and usable.
      fd = new_socket(ip.family(), SOCK_DGRAM);
      if (!fd) return std::nullopt;  // out of file descriptors
      // The default buffer (~208 KiB, i.e. ~90 datagrams of 1200 B) overflows on one video key
      // frame arriving while the worker is busy. Memory is only used while datagrams wait.
      set_receive_buffer(fd.get(), kRelayReceiveBuffer);
    }
    if (!bind_to(fd.get(), core::SocketAddress(ip, uint16_t(port)))) continue;
    BoundSocket s{std::move(fd), core::SocketAddress(ip, uint16_t(port))};
    if (reserve_next) {
      auto next = open_udp(core::SocketAddress(ip, uint16_t(port + 1)), false, nullptr);
      if (!next) continue;  // `s` closes; try another pair
      uint64_t t = 0;
      while (t == 0) t = core::random_u64();
      std::lock_guard lock(mu_);
      reservations_.emplace(
          t, Reservation{BoundSocket{std::move(next), core::SocketAddress(ip, uint16_t(port + 1))},
                         now_ms + kReservationMs});
      expiry_order_.push_back(Due{now_ms + kReservationMs, t});
      *token = t;
    }
    return s;
  }
  return std::nullopt;
}

std::optional<BoundSocket> RelayPorts::take(uint64_t token) {
  std::lock_guard lock(mu_);
  auto it = reservations_.find(token);
  if (it == reservations_.end()) return std::nullopt;
  BoundSocket s = std::move(it->second.socket);
  reservations_.erase(it);
  return s;
}

void RelayPorts::expire(int64_t now_ms) {
  std::lock_guard lock(mu_);
  while (!expiry_order_.empty() && expiry_order_.front().expires_ms <= now_ms) {
    reservations_.erase(expiry_order_.front().token);  // nothing when it was taken
    expiry_order_.pop_front();
  }
}

std::optional<BoundSocket> RelayPorts::bind_tcp_listener(const core::IpAddress& ip) {
  const uint32_t span = uint32_t(max_) - min_ + 1;
  const uint32_t offset = uint32_t(core::random_u64() % span);
  const uint32_t tries = std::min<uint32_t>(span, 4096);
  for (uint32_t i = 0; i < tries; ++i) {
    const core::SocketAddress addr(ip, uint16_t(min_ + (offset + i) % span));
    {
      std::lock_guard lock(mu_);
      if (!tcp_in_use_.insert(addr).second) continue;
    }
    // Free for everyone (a plain bind), then ours with SO_REUSEPORT.
    UniqueFd probe = new_socket(ip.family(), SOCK_STREAM, {.reuseaddr = true});
    const bool no_fd = !probe;
    UniqueFd fd;
    if (probe && bind_to(probe.get(), addr)) {
      probe.reset();
      fd = new_socket(ip.family(), SOCK_STREAM, {.reuseaddr = true, .reuseport = true});
      if (fd && (!bind_to(fd.get(), addr) || ::listen(fd.get(), 64) != 0)) fd.reset();
    }
    if (fd) return BoundSocket{std::move(fd), addr};
    std::lock_guard lock(mu_);
    tcp_in_use_.erase(addr);
    if (no_fd) return std::nullopt;  // out of file descriptors
  }
  return std::nullopt;
}

void RelayPorts::release_tcp(const core::SocketAddress& addr) {
  std::lock_guard lock(mu_);
  tcp_in_use_.erase(addr);
}

size_t RelayPorts::tcp_listener_count() const {
  std::lock_guard lock(mu_);
  return tcp_in_use_.size();
}

size_t RelayPorts::reservation_count() const {
  std::lock_guard lock(mu_);
  return reservations_.size();
}

}  // namespace turnpike::net
