// Batched UDP sending for the benchmark tools (the echo peers of the load generator and the
// floor forwarder): datagrams queued in order, then sent with as few system calls as possible.
// Runs of datagrams to the same destination with the same size go out as one sendmsg() with a
// UDP_SEGMENT control message (UDP GSO, Linux >= 4.18, include/uapi/linux/udp.h): the kernel cuts
// the buffer into gso_size-byte datagrams, all but the last exactly gso_size long. Everything
// queued for one socket is submitted with one sendmmsg(). If the kernel refuses GSO (EIO: no
// checksum offload on the route; EINVAL: segment larger than the MTU or too many segments;
// ENOPROTOOPT: no UDP_SEGMENT), GSO is switched off for good and datagrams go one by one.
//
// Header-only and independent of the server's own sender (server/net/udp_sender.h) on purpose:
// the floor must not inherit the server's code.
#pragma once

#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

namespace bench {

class GsoBatch {
 public:
  static constexpr unsigned kMax = 256;     // queued datagrams
  static constexpr unsigned kMaxSegs = 64;  // UDP_MAX_SEGMENTS is 64 before Linux 6.9, 128 after
  static constexpr size_t kMaxGsoBytes = 60000;  // stay under the 64 KiB IP datagram limit

  bool gso = true;
  uint64_t sent = 0;     // datagrams the kernel took
  uint64_t dropped = 0;  // datagrams refused (full buffer, ...)
  uint64_t syscalls = 0;

  bool full() const { return n_ >= kMax; }
  unsigned size() const { return n_; }

  // `data` must stay valid until flush().
  void add(int fd, const sockaddr* to, socklen_t to_len, const void* data, size_t len) {
    if (n_ == kMax) flush();
    Item& it = items_[n_++];
    it.fd = fd;
    std::memcpy(&it.to, to, to_len);
    it.to_len = to_len;
    it.iov.iov_base = const_cast<void*>(data);
    it.iov.iov_len = len;
  }

  void flush() {
    unsigned i = 0;
    while (i < n_) {
      // One sendmmsg per run of items on the same socket; inside it, one message per run of
      // equal destination and size.
      const int fd = items_[i].fd;
      unsigned m = 0;
      unsigned j = i;
      while (j < n_ && items_[j].fd == fd && m < kMsgs) {
        unsigned k = j + 1;
        size_t total = items_[j].iov.iov_len;
        const size_t seg = items_[j].iov.iov_len;
        if (gso) {
          while (k < n_ && k - j < kMaxSegs && items_[k].fd == fd &&
                 same_dest(items_[j], items_[k]) && items_[k].iov.iov_len <= seg &&
                 total + items_[k].iov.iov_len <= kMaxGsoBytes) {
            total += items_[k].iov.iov_len;
            const bool shorter = items_[k].iov.iov_len < seg;
            ++k;
            if (shorter) break;  // only the last segment may be shorter
          }
        }
        prepare(m, j, k, seg);
        ++m;
        j = k;
      }
      submit(fd, m);
      i = j;
    }
    n_ = 0;
  }

 private:
  struct Item {
    int fd;
    socklen_t to_len;
    sockaddr_storage to;
    iovec iov;
  };
  struct Msg {
    unsigned first, count;
    size_t seg;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(uint16_t))];
  };
  static constexpr unsigned kMsgs = kMax;

  static bool same_dest(const Item& a, const Item& b) {
    return a.to_len == b.to_len && std::memcmp(&a.to, &b.to, a.to_len) == 0;
  }

  void prepare(unsigned m, unsigned first, unsigned end, size_t seg) {
    Msg& g = msgs_[m];
    g.first = first;
    g.count = end - first;
    g.seg = seg;
    msghdr& h = hdrs_[m].msg_hdr;
    std::memset(&h, 0, sizeof h);
    for (unsigned k = first; k < end; ++k) iov_[k] = items_[k].iov;
    h.msg_name = &items_[first].to;
    h.msg_namelen = items_[first].to_len;
    h.msg_iov = &iov_[first];
    h.msg_iovlen = g.count;
    if (g.count > 1) {
      h.msg_control = g.control;
      h.msg_controllen = sizeof g.control;
      cmsghdr* c = CMSG_FIRSTHDR(&h);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      const uint16_t s = uint16_t(seg);
      std::memcpy(CMSG_DATA(c), &s, sizeof s);
    }
  }

  void submit(int fd, unsigned count) {
    unsigned done = 0;
    while (done < count) {
      ++syscalls;
      const int r = ::sendmmsg(fd, &hdrs_[done], count - done, MSG_DONTWAIT);
      if (r > 0) {
        for (int k = 0; k < r; ++k) sent += msgs_[done + unsigned(k)].count;
        done += unsigned(r);
        continue;
      }
      // The first message failed.
      const Msg& g = msgs_[done];
      if (g.count > 1 && (errno == EIO || errno == EINVAL || errno == ENOPROTOOPT)) {
        gso = false;  // sticky: send this run one by one, and everything after it
        for (unsigned k = g.first; k < g.first + g.count; ++k) {
          ++syscalls;
          if (::sendto(fd, items_[k].iov.iov_base, items_[k].iov.iov_len, MSG_DONTWAIT,
                       reinterpret_cast<const sockaddr*>(&items_[k].to), items_[k].to_len) >= 0) {
            ++sent;
          } else {
            ++dropped;
          }
        }
      } else {
        dropped += g.count;
      }
      ++done;
    }
  }

  unsigned n_ = 0;
  std::array<Item, kMax> items_;
  std::array<iovec, kMax> iov_;
  std::array<Msg, kMsgs> msgs_;
  std::array<mmsghdr, kMsgs> hdrs_;
};

}  // namespace bench
