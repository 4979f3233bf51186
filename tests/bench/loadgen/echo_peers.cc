#include "loadgen/echo_peers.h"

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/gso_batch.h"
#include "common/socket_drops.h"

namespace bench {

EchoPeers::~EchoPeers() {
  stop();
}

bool EchoPeers::start(const std::string& ip, unsigned count, unsigned threads, bool gso,
                      std::string* error) {
  auto addr = turnpike::core::SocketAddress::parse(ip + ":0");
  if (!addr) {
    *error = "bad peer address " + ip;
    return false;
  }
  gso_ = gso;
  for (unsigned i = 0; i < count; ++i) {
    const int fd = ::socket(addr->ip().is_v4() ? AF_INET : AF_INET6,
                            SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const int buf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    sockaddr_storage ss;
    socklen_t len = addr->to_sockaddr(ss);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      *error = std::string("echo peer socket: ") + std::strerror(errno);
      return false;
    }
    len = sizeof ss;
    getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    fds_.push_back(fd);
    addresses_.push_back(
        *turnpike::core::SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len));
  }
  thread_count_ = std::max(1u, std::min(threads, count));
  received_ = std::vector<Counter>(thread_count_);
  for (unsigned t = 0; t < thread_count_; ++t) threads_.emplace_back([this, t] { serve(t); });
  return true;
}

void EchoPeers::stop() {
  stop_ = true;
  for (auto& t : threads_) t.join();
  threads_.clear();
  for (int fd : fds_) ::close(fd);
  fds_.clear();
}

uint64_t EchoPeers::received() const {
  uint64_t n = 0;
  for (const auto& c : received_) n += c.v.load(std::memory_order_relaxed);
  return n;
}

uint64_t EchoPeers::drops() const {
  uint64_t n = 0;
  for (int fd : fds_) n += socket_drops(fd);
  return n;
}

void EchoPeers::serve(unsigned thread) {
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  for (size_t i = thread; i < fds_.size(); i += thread_count_) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fds_[i];
    epoll_ctl(ep, EPOLL_CTL_ADD, fds_[i], &ev);
  }
  // Received datagrams stay in their slots until the batch is flushed, so all the sockets that
  // were ready in one epoll round are echoed with as few system calls as possible.
  constexpr unsigned kSlots = GsoBatch::kMax;
  constexpr unsigned kPerRecv = 64;
  constexpr size_t kSlotSize = 2048;
  auto slots = std::make_unique<uint8_t[]>(kSlots * kSlotSize);
  std::vector<mmsghdr> msgs(kPerRecv);
  std::vector<iovec> iov(kPerRecv);
  std::vector<sockaddr_storage> from(kPerRecv);
  auto batch = std::make_unique<GsoBatch>();
  batch->gso = gso_;
  epoll_event events[64];
  uint64_t count = 0;
  while (!stop_.load(std::memory_order_relaxed)) {
    const int n = epoll_wait(ep, events, 64, 20);
    unsigned used = 0;
    for (int e = 0; e < n; ++e) {
      const int fd = events[e].data.fd;
      for (int round = 0; round < 8; ++round) {
        if (kSlots - used < kPerRecv) {
          batch->flush();
          used = 0;
        }
        for (unsigned k = 0; k < kPerRecv; ++k) {
          iov[k].iov_base = slots.get() + size_t(used + k) * kSlotSize;
          iov[k].iov_len = kSlotSize;
          msgs[k].msg_hdr = msghdr{};
          msgs[k].msg_hdr.msg_iov = &iov[k];
          msgs[k].msg_hdr.msg_iovlen = 1;
          msgs[k].msg_hdr.msg_name = &from[k];
          msgs[k].msg_hdr.msg_namelen = sizeof from[k];
        }
        const int got = ::recvmmsg(fd, msgs.data(), kPerRecv, MSG_DONTWAIT, nullptr);
        if (got <= 0) break;
        for (int k = 0; k < got; ++k) {
          batch->add(fd, reinterpret_cast<sockaddr*>(&from[k]), msgs[k].msg_hdr.msg_namelen,
                     iov[k].iov_base, msgs[k].msg_len);
        }
        used += unsigned(got);
        count += unsigned(got);
        if (got < int(kPerRecv)) break;
      }
    }
    batch->flush();
    received_[thread].v.store(count, std::memory_order_relaxed);
  }
  ::close(ep);
}

}  // namespace bench
