#include "net/udp_sender.h"

#include <netinet/udp.h>

#include <cerrno>
#include <cstring>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103  // include/uapi/linux/udp.h, Linux >= 4.18
#endif

namespace turnpike::net {

namespace {

bool same_destination(const sockaddr_storage& a, socklen_t a_len, const sockaddr_storage& b,
                      socklen_t b_len) {
  return a_len == b_len && std::memcmp(&a, &b, a_len) == 0;
}

// The errors with which udp_send_skb()/udp_sendmsg() refuse a UDP_SEGMENT send that a plain
// send of the same datagrams would not: ENOPROTOOPT (kernel without UDP GSO), EIO (no checksum
// offload on the route), EINVAL (gso_size above the MTU, too many segments).
bool gso_refused(int err) {
  return err == ENOPROTOOPT || err == EIO || err == EINVAL;
}

}  // namespace

void UdpSender::queue(int fd, const core::SocketAddress& to, core::Bytes data) {
  if (count_ == kCapacity) flush();
  Entry& e = entries_[count_++];
  e.fd = fd;
  e.to_len = to.to_sockaddr(e.to);
  e.iov.iov_base = const_cast<uint8_t*>(data.data());
  e.iov.iov_len = data.size();
}

// Fills messages_[m] with the run of entries starting at `first` that can share one GSO send:
// same socket and destination, every segment the size of the first but the last, which may be
// shorter. Returns the index after the run.
unsigned UdpSender::build_message(unsigned m, unsigned first) {
  const Entry& head = entries_[first];
  const size_t segment = head.iov.iov_len;
  size_t total = segment;
  unsigned end = first + 1;
  if (gso_) {
    while (end < count_ && end - first < kMaxSegments) {
      const Entry& e = entries_[end];
      if (e.fd != head.fd || e.iov.iov_len > segment || total + e.iov.iov_len > kMaxGsoBytes ||
          !same_destination(e.to, e.to_len, head.to, head.to_len)) {
        break;
      }
      total += e.iov.iov_len;
      ++end;
      if (e.iov.iov_len < segment) break;  // a shorter segment can only be the last
    }
  }
  Message& msg = messages_[m];
  msg.first = first;
  msg.count = end - first;
  msghdr& h = headers_[m].msg_hdr;
  h = msghdr{};
  for (unsigned i = first; i < end; ++i) iov_[i] = entries_[i].iov;
  h.msg_name = const_cast<sockaddr_storage*>(&head.to);
  h.msg_namelen = head.to_len;
  h.msg_iov = &iov_[first];
  h.msg_iovlen = msg.count;
  if (msg.count > 1) {
    // UDP_SEGMENT (SOL_UDP): the size of each datagram the kernel cuts the payload into.
    h.msg_control = msg.control;
    h.msg_controllen = sizeof msg.control;
    cmsghdr* c = CMSG_FIRSTHDR(&h);
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    const uint16_t size = uint16_t(segment);
    std::memcpy(CMSG_DATA(c), &size, sizeof size);
  }
  return end;
}

void UdpSender::flush() {
  unsigned i = 0;
  while (i < count_) {
    // One sendmmsg() per run of entries on the same socket.
    const int fd = entries_[i].fd;
    unsigned m = 0;
    while (i < count_ && entries_[i].fd == fd) i = build_message(m++, i);
    submit(fd, m);
  }
  count_ = 0;
}

void UdpSender::submit(int fd, unsigned messages) {
  unsigned done = 0;
  while (done < messages) {
    ++stats_.syscalls;
    const int n = ::sendmmsg(fd, &headers_[done], messages - done, MSG_DONTWAIT);
    if (n > 0) {
      for (unsigned k = done; k < done + unsigned(n); ++k) {
        stats_.datagrams += messages_[k].count;
        if (messages_[k].count > 1) ++stats_.gso_sends;
      }
      done += unsigned(n);
      continue;
    }
    // messages_[done] failed (sendmmsg reports the error of the first message it could not send).
    const Message& msg = messages_[done];
    if (msg.count > 1 && gso_refused(errno)) {
      gso_ = false;  // sticky: later flushes build one message per datagram
      send_one_by_one(msg);
    } else {
      stats_.dropped += msg.count;  // EAGAIN (full buffer) or a real error: the network drops too
    }
    ++done;
  }
}

void UdpSender::send_one_by_one(const Message& msg) {
  for (unsigned i = msg.first; i < msg.first + msg.count; ++i) {
    const Entry& e = entries_[i];
    ++stats_.syscalls;
    if (::sendto(e.fd, e.iov.iov_base, e.iov.iov_len, MSG_DONTWAIT,
                 reinterpret_cast<const sockaddr*>(&e.to), e.to_len) == ssize_t(e.iov.iov_len)) {
      ++stats_.datagrams;
    } else {
      ++stats_.dropped;
    }
  }
}

}  // namespace turnpike::net
