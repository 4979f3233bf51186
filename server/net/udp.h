// UDP sockets: opening, binding, socket options, and batched receive with recvmmsg.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cstdint>
#include <string>

#include "core/socket_address.h"
#include "net/unique_fd.h"
#include "relay/server.h"

namespace turnpike::net {

// A non-blocking UDP socket bound to `addr` (IPv6 sockets are IPv6-only). `reuseport` lets
// every worker bind its own listener on the same address (SO_REUSEPORT); the kernel then
// hashes each client's 5-tuple to one of them. On failure returns an invalid fd and sets `error`.
UniqueFd open_udp(const core::SocketAddress& addr, bool reuseport, std::string* error);

// The two halves of open_udp(), for callers that try several ports with one socket (a failed
// bind() leaves the socket unbound and usable).
UniqueFd new_udp_socket(core::Family f);
bool bind_udp(int fd, const core::SocketAddress& addr);

// RFC 8656 §7.2 DONT-FRAGMENT: set DF on datagrams sent from this socket.
bool set_dont_fragment(int fd, core::Family f);

// Up to kCount datagrams per recvmmsg call, each received into a slot with the headroom and
// tailroom the relay needs to frame peer data in place.
struct RecvBatch {
  static constexpr unsigned kCount = 32;
  static constexpr size_t kMaxPayload = 4096;  // larger datagrams are dropped (never seen in WebRTC)
  static constexpr size_t kSlot = relay::Server::kHeadroom + kMaxPayload + relay::Server::kTailroom;

  RecvBatch();
  RecvBatch(const RecvBatch&) = delete;
  RecvBatch& operator=(const RecvBatch&) = delete;

  // Receives what is queued (without blocking). Returns the number of datagrams, 0 if none.
  int receive(int fd);

  uint8_t* payload(unsigned i) { return slots[i].data() + relay::Server::kHeadroom; }
  size_t length(unsigned i) const { return msgs[i].msg_len; }
  bool truncated(unsigned i) const { return (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0; }
  const sockaddr* source(unsigned i) const { return reinterpret_cast<const sockaddr*>(&addrs[i]); }
  // Whether `p` points into one of the slots (bytes that stay put until the next receive()).
  bool holds(const uint8_t* p) const {
    const auto begin = reinterpret_cast<uintptr_t>(slots.data());
    const auto at = reinterpret_cast<uintptr_t>(p);
    return at >= begin && at < begin + sizeof(slots);
  }
  socklen_t source_len(unsigned i) const { return msgs[i].msg_hdr.msg_namelen; }

  std::array<std::array<uint8_t, kSlot>, kCount> slots{};
  std::array<mmsghdr, kCount> msgs{};
  std::array<iovec, kCount> iov{};
  std::array<sockaddr_storage, kCount> addrs{};
};

// Sends one datagram without blocking. A full socket buffer drops the datagram, as the network
// would; returns false then.
bool send_datagram(int fd, const core::SocketAddress& to, core::Bytes data);

}  // namespace turnpike::net
