// Deferred, batched UDP sends for the relay path (DESIGN.md "Threading and the hot path").
//
// While a worker handles a batch of received datagrams, what it relays is queued here instead
// of being sent at once, and flush() sends the queue with as few system calls as possible:
//   - a run of datagrams for the same socket, destination and size becomes ONE sendmsg() with a
//     UDP_SEGMENT control message (UDP GSO, Linux >= 4.18, include/uapi/linux/udp.h): the
//     kernel builds one large datagram, routes it once and cuts it into gso_size-byte
//     datagrams (all but the last exactly gso_size; at most UDP_MAX_SEGMENTS = 64 of them before
//     Linux 6.9; at most 64 KiB in all);
//   - all runs for the same socket go in one sendmmsg().
// A kernel that refuses GSO (ENOPROTOOPT: no UDP_SEGMENT; EIO: the route has no checksum
// offload, e.g. some tunnels; EINVAL: segment larger than the path MTU) turns it off for good
// (sticky) and the datagrams concerned are sent one by one, so nothing is lost to the fallback.
//
// Nothing is copied: the queue holds pointers, so the caller must keep the bytes unchanged until
// flush() (the worker's receive slots, which are only reused after a flush). No allocation, no
// locks, no logging: the queue is a fixed array owned by one worker.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cstdint>

#include "core/bytes.h"
#include "core/socket_address.h"

namespace turnpike::net {

class UdpSender {
 public:
  static constexpr unsigned kCapacity = 64;          // queued datagrams; a full queue flushes
  static constexpr unsigned kMaxSegments = 64;       // UDP_MAX_SEGMENTS before Linux 6.9
  static constexpr size_t kMaxGsoBytes = 63 * 1024;  // < 64 KiB minus IP/UDP headers

  struct Stats {
    uint64_t datagrams = 0;  // handed to the kernel
    uint64_t dropped = 0;    // refused by the kernel (full socket buffer, ...)
    uint64_t syscalls = 0;
    uint64_t gso_sends = 0;  // sendmsg/sendmmsg entries that carried UDP_SEGMENT
  };

  // `data` must stay valid and unchanged until flush().
  void queue(int fd, const core::SocketAddress& to, core::Bytes data);
  void flush();

  bool empty() const { return count_ == 0; }
  bool gso_enabled() const { return gso_; }
  const Stats& stats() const { return stats_; }
  // For tests: behave as if the kernel had refused GSO before.
  void disable_gso() { gso_ = false; }

 private:
  struct Entry {
    int fd;
    socklen_t to_len;
    sockaddr_storage to;
    iovec iov;
  };
  struct Message {
    unsigned first = 0;  // entries [first, first + count)
    unsigned count = 0;
    alignas(cmsghdr) unsigned char control[CMSG_SPACE(sizeof(uint16_t))];
  };

  unsigned build_message(unsigned m, unsigned first);
  void submit(int fd, unsigned messages);
  void send_one_by_one(const Message& msg);

  std::array<Entry, kCapacity> entries_;
  std::array<iovec, kCapacity> iov_;
  std::array<Message, kCapacity> messages_;
  std::array<mmsghdr, kCapacity> headers_;
  unsigned count_ = 0;
  bool gso_ = true;
  Stats stats_;
};

}  // namespace turnpike::net
