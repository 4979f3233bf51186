// UDP sockets: opening, binding, socket options, and batched receive with recvmmsg.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cstdint>
#include <string>

#include "core/socket_address.h"
#include "net/sockets.h"
#include "net/unique_fd.h"
#include "relay/server.h"

namespace turnpike::net {

// A non-blocking UDP socket bound to `addr` (IPv6 sockets are IPv6-only). `reuseport` lets
// every worker bind its own listener on the same address (SO_REUSEPORT); the kernel then
// hashes each client's 5-tuple to one of them. On failure returns an invalid fd and sets `error`.
UniqueFd open_udp(const core::SocketAddress& addr, bool reuseport, std::string* error);

// Asks for a receive buffer of `bytes` (the kernel caps it at net.core.rmem_max). Best effort.
void set_receive_buffer(int fd, int bytes);

// A worker's listening socket (UDP or DTLS) on `addr`: SO_REUSEPORT, and socket buffers with
// room for bursts, so that a worker that is briefly busy does not drop what arrives meanwhile.
UniqueFd open_udp_listener(const core::SocketAddress& addr, std::string* error);

// RFC 8656 §7.2 DONT-FRAGMENT: set DF on datagrams sent from this socket.
bool set_dont_fragment(int fd, core::Family f);

// Up to kCount datagrams per recvmmsg call, each received into a slot with the headroom and
// tailroom the relay needs to frame peer data in place. Slots can be kept after a receive
// (keep()): the next receive() then fills the following slots, so sends that point into kept
// slots can wait (UdpSender) until release_all(), e.g. the end of an event-loop round.
struct RecvBatch {
  static constexpr unsigned kCount = 32;          // datagrams per recvmmsg()
  static constexpr unsigned kSlots = 4 * kCount;  // slots that can be kept before a release
  static constexpr size_t kMaxPayload =
      4096;  // larger datagrams are dropped (never seen in WebRTC)
  static constexpr size_t kSlot = relay::Server::kHeadroom + kMaxPayload + relay::Server::kTailroom;

  RecvBatch();
  RecvBatch(const RecvBatch&) = delete;
  RecvBatch& operator=(const RecvBatch&) = delete;

  // Receives what is queued (without blocking) into the first free slots. Returns the number of
  // datagrams, 0 if none. Indexes i below are those of the last receive().
  int receive(int fd);
  // Keeps the n datagrams of the last receive in their slots until release_all().
  void keep(unsigned n) { first_ += n; }
  // Whether a receive() would need kept slots.
  bool full() const { return first_ + kCount > kSlots; }
  void release_all() { first_ = 0; }

  uint8_t* payload(unsigned i) { return slots[first_ + i].data() + relay::Server::kHeadroom; }
  size_t length(unsigned i) const { return msgs[i].msg_len; }
  bool truncated(unsigned i) const { return (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0; }
  const sockaddr* source(unsigned i) const { return reinterpret_cast<const sockaddr*>(&addrs[i]); }
  socklen_t source_len(unsigned i) const { return msgs[i].msg_hdr.msg_namelen; }
  // Whether `p` points into one of the slots (bytes that stay put until they are released).
  bool holds(const uint8_t* p) const {
    const auto begin = reinterpret_cast<uintptr_t>(slots.data());
    const auto at = reinterpret_cast<uintptr_t>(p);
    return at >= begin && at < begin + sizeof(slots);
  }

  std::array<std::array<uint8_t, kSlot>, kSlots> slots{};
  std::array<mmsghdr, kCount> msgs{};
  std::array<iovec, kCount> iov{};
  std::array<sockaddr_storage, kCount> addrs{};

 private:
  unsigned first_ = 0;  // first slot of the next receive()
};

// Sends one datagram without blocking. A full socket buffer drops the datagram, as the network
// would; returns false then.
bool send_datagram(int fd, const core::SocketAddress& to, core::Bytes data);

}  // namespace turnpike::net
