// turnpike-floor-relay: the floor of the benchmark. The least a relay can do with the same
// socket layout as a TURN server (one SO_REUSEPORT listener per thread, one relay socket per
// allocation, RFC 8656 §7): it answers Allocate, CreatePermission, ChannelBind and Refresh with
// a success and no checks at all (no authentication, no permissions, no lifetimes, no peer
// policy), strips the 4-byte ChannelData header (RFC 8656 §12.4) on the way to the peer and
// puts it back on the way to the client. Receives are batched with recvmmsg(), sends with UDP
// GSO (UDP_SEGMENT) for same-destination runs and sendmmsg() per socket otherwise, flushed at
// the end of every epoll round. Whatever a real server costs above this is its own work.
//
// NOT a TURN server: never expose it. It binds loopback addresses only, or the documentation
// ranges 192.0.2.0/24 and 198.51.100.0/24 (RFC 5737) that exist here only on the veth pairs of
// the benchmark's network namespaces (tests/bench/netns_bench.py).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/gso_batch.h"
#include "core/attributes/xor_address.h"
#include "core/stun_message.h"
#include "core/stun_writer.h"

namespace core = turnpike::core;
namespace attr = core::attr;

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) {
  g_stop = true;
}

struct Options {
  core::SocketAddress listen;
  std::optional<core::IpAddress> relay_ip;  // relay sockets' address; default: listen's
  unsigned threads = 2;
  uint16_t min_port = 49152, max_port = 65535;
};

constexpr unsigned kPerRecv = 64;
constexpr unsigned kSlots = bench::GsoBatch::kMax;
constexpr size_t kHead = 4;  // room for the ChannelData header in front of peer data
constexpr size_t kSlotSize = 2048;

struct Alloc {
  sockaddr_in client{};
  int relay_fd = -1;
  core::SocketAddress relayed;
  struct Bind {
    uint16_t channel;
    sockaddr_in peer;
  };
  std::vector<Bind> binds;
};

uint64_t key_of(const sockaddr_in& a) {
  return (uint64_t(a.sin_addr.s_addr) << 16) | a.sin_port;
}

class Worker {
 public:
  Worker(const Options& o, unsigned index) : o_(o), rng_(index * 7919 + 1) {}

  bool open() {
    listen_fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const int one = 1, size = 4 << 20;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    setsockopt(listen_fd_, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    setsockopt(listen_fd_, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    sockaddr_storage ss;
    const socklen_t len = o_.listen.to_sockaddr(ss);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      std::fprintf(stderr, "turnpike-floor-relay: bind %s: %s\n", o_.listen.to_string().c_str(),
                   std::strerror(errno));
      return false;
    }
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    watch(listen_fd_, nullptr);
    return true;
  }

  void run() {
    slots_ = std::make_unique<uint8_t[]>(kSlots * kSlotSize);
    epoll_event events[128];
    while (!g_stop.load(std::memory_order_relaxed)) {
      const int n = epoll_wait(ep_, events, 128, 100);
      used_ = 0;
      for (int i = 0; i < n; ++i) {
        auto* a = static_cast<Alloc*>(events[i].data.ptr);
        if (a) {
          drain_relay(*a);
        } else {
          drain_listener();
        }
      }
      batch_.flush();
    }
  }

 private:
  void watch(int fd, Alloc* a) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = a;
    epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
  }

  // Receives up to kPerRecv datagrams into free slots (flushing first if too few are left).
  int receive(int fd, sockaddr_in* from) {
    if (kSlots - used_ < kPerRecv) {
      batch_.flush();
      used_ = 0;
    }
    for (unsigned k = 0; k < kPerRecv; ++k) {
      iov_[k].iov_base = slot(used_ + k) + kHead;
      iov_[k].iov_len = kSlotSize - kHead;
      msgs_[k].msg_hdr = msghdr{};
      msgs_[k].msg_hdr.msg_iov = &iov_[k];
      msgs_[k].msg_hdr.msg_iovlen = 1;
      msgs_[k].msg_hdr.msg_name = &from[k];
      msgs_[k].msg_hdr.msg_namelen = sizeof from[k];
    }
    const int n = ::recvmmsg(fd, msgs_, kPerRecv, MSG_DONTWAIT, nullptr);
    return n < 0 ? 0 : n;
  }
  uint8_t* slot(unsigned i) { return slots_.get() + size_t(i) * kSlotSize; }

  void drain_listener() {
    sockaddr_in from[kPerRecv];
    for (int round = 0; round < 4; ++round) {
      const int n = receive(listen_fd_, from);
      for (int k = 0; k < n; ++k) {
        uint8_t* p = static_cast<uint8_t*>(iov_[k].iov_base);
        const size_t len = msgs_[k].msg_len;
        if (len >= 4 && (p[0] & 0xC0) == 0x40) {
          auto it = allocs_.find(key_of(from[k]));
          if (it == allocs_.end()) continue;
          const uint16_t ch = core::load_be16(p);
          const size_t data_len = std::min<size_t>(core::load_be16(p + 2), len - 4);
          for (const auto& b : it->second->binds) {
            if (b.channel == ch) {
              batch_.add(it->second->relay_fd, reinterpret_cast<const sockaddr*>(&b.peer),
                         sizeof b.peer, p + 4, data_len);
              break;
            }
          }
        } else {
          on_stun(from[k], core::Bytes(p, len));
        }
      }
      used_ += unsigned(n);
      if (n < int(kPerRecv)) break;
    }
  }

  void drain_relay(Alloc& a) {
    sockaddr_in from[kPerRecv];
    for (int round = 0; round < 4; ++round) {
      const int n = receive(a.relay_fd, from);
      for (int k = 0; k < n; ++k) {
        uint8_t* p = static_cast<uint8_t*>(iov_[k].iov_base);
        const size_t len = msgs_[k].msg_len;
        for (const auto& b : a.binds) {
          if (b.peer.sin_port == from[k].sin_port &&
              b.peer.sin_addr.s_addr == from[k].sin_addr.s_addr) {
            core::store_be16(p - 4, b.channel);
            core::store_be16(p - 2, uint16_t(len));
            batch_.add(listen_fd_, reinterpret_cast<const sockaddr*>(&a.client), sizeof a.client,
                       p - 4, len + 4);
            break;
          }
        }
      }
      used_ += unsigned(n);
      if (n < int(kPerRecv)) break;
    }
  }

  void on_stun(const sockaddr_in& from, core::Bytes data) {
    auto m = core::StunMessage::parse(data);
    if (!m || m->message_class() != core::MessageClass::Request) return;
    const auto client =
        *core::SocketAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&from), sizeof from);
    uint8_t out[256];
    core::StunWriter w(core::MutableBytes(out, sizeof out), m->method(),
                       core::MessageClass::Success, m->transaction_id());
    auto it = allocs_.find(key_of(from));
    Alloc* a = it == allocs_.end() ? nullptr : it->second.get();
    switch (m->method()) {
      case core::Method::Allocate: {
        if (!a) a = allocate(from);
        if (!a) return;
        w.add_xor_address(attr::XorRelayedAddress, a->relayed);
        w.add_xor_address(attr::XorMappedAddress, client);
        w.add_u32(attr::Lifetime, 600);
        break;
      }
      case core::Method::ChannelBind: {
        const auto ch = m->find(attr::ChannelNumber);
        const auto pa = m->find(attr::XorPeerAddress);
        if (!a || !ch || !pa || m->value(*ch).size() < 2) return;
        const auto peer = core::decode_xor_address(m->value(*pa), m->bytes().data());
        if (!peer || !peer->ip().is_v4()) return;
        sockaddr_storage ss;
        peer->to_sockaddr(ss);
        a->binds.push_back(
            {core::load_be16(m->value(*ch).data()), *reinterpret_cast<sockaddr_in*>(&ss)});
        break;
      }
      case core::Method::Binding:
        w.add_xor_address(attr::XorMappedAddress, client);
        break;
      default:  // CreatePermission, Refresh: nothing to do
        break;
    }
    ::sendto(listen_fd_, out, w.size(), MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&from),
             sizeof from);
  }

  Alloc* allocate(const sockaddr_in& from) {
    auto a = std::make_unique<Alloc>();
    a->client = from;
    const uint32_t span = uint32_t(o_.max_port) - o_.min_port + 1;
    const uint32_t start = uint32_t(rng_() % span);
    for (uint32_t i = 0; i < span && i < 4096; ++i) {
      const uint16_t port = uint16_t(o_.min_port + (start + i) % span);
      const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      core::SocketAddress addr(o_.relay_ip ? *o_.relay_ip : o_.listen.ip(), port);
      sockaddr_storage ss;
      const socklen_t len = addr.to_sockaddr(ss);
      const int buf = 512 * 1024;  // as turnpike's relay sockets (net/relay_ports.h)
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
      if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0) {
        a->relay_fd = fd;
        a->relayed = addr;
        break;
      }
      ::close(fd);
    }
    if (a->relay_fd < 0) return nullptr;
    Alloc* raw = a.get();
    watch(raw->relay_fd, raw);
    allocs_[key_of(from)] = std::move(a);
    return raw;
  }

  const Options& o_;
  std::minstd_rand rng_;
  int listen_fd_ = -1;
  int ep_ = -1;
  std::unordered_map<uint64_t, std::unique_ptr<Alloc>> allocs_;
  std::unique_ptr<uint8_t[]> slots_;
  unsigned used_ = 0;
  mmsghdr msgs_[kPerRecv];
  iovec iov_[kPerRecv];
  bench::GsoBatch batch_;
};

}  // namespace

// Loopback, or a documentation range only the benchmark's namespaces have (see the top).
bool bindable(const core::IpAddress& ip) {
  const uint8_t* b = ip.data();
  return ip.is_v4() && (b[0] == 127 || (b[0] == 192 && b[1] == 0 && b[2] == 2) ||
                        (b[0] == 198 && b[1] == 51 && b[2] == 100));
}

int main(int argc, char** argv) {
  Options o;
  o.listen = *core::SocketAddress::parse("127.0.0.1:3478");
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--listen") {
      auto s = core::SocketAddress::parse(v);
      if (!s || !bindable(s->ip())) {
        std::fprintf(stderr,
                     "turnpike-floor-relay: --listen must be IPv4 IP:PORT on 127/8, 192.0.2/24 "
                     "or 198.51.100/24\n");
        return 2;
      }
      o.listen = *s;
    } else if (a == "--relay-ip") {
      auto s = core::SocketAddress::parse(v + ":0");
      if (!s || !bindable(s->ip())) {
        std::fprintf(stderr,
                     "turnpike-floor-relay: --relay-ip must be IPv4 on 127/8, 192.0.2/24 or "
                     "198.51.100/24\n");
        return 2;
      }
      o.relay_ip = s->ip();
    } else if (a == "--threads") {
      o.threads = unsigned(std::max(1, std::atoi(v.c_str())));
    } else if (a == "--min-port") {
      o.min_port = uint16_t(std::atoi(v.c_str()));
    } else if (a == "--max-port") {
      o.max_port = uint16_t(std::atoi(v.c_str()));
    } else {
      std::fprintf(stderr,
                   "usage: turnpike-floor-relay [--listen 127.0.0.1:PORT] [--relay-ip IP] [--threads N] "
                   "[--min-port P] [--max-port P]\n");
      return 2;
    }
  }
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  std::vector<std::unique_ptr<Worker>> workers;
  for (unsigned i = 0; i < o.threads; ++i) {
    workers.push_back(std::make_unique<Worker>(o, i));
    if (!workers.back()->open()) return 1;
  }
  std::printf("turnpike-floor-relay ready on %s, %u thread(s)\n", o.listen.to_string().c_str(),
              o.threads);
  std::fflush(stdout);
  std::vector<std::thread> threads;
  for (auto& w : workers) threads.emplace_back([&w] { w->run(); });
  for (auto& t : threads) t.join();
  return 0;
}
