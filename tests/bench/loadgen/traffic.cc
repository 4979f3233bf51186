#include "loadgen/traffic.h"

#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <memory>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/socket_drops.h"
#include "core/bytes.h"
#include "core/channel_data.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

namespace bench {

namespace core = turnpike::core;

namespace {
constexpr unsigned kBatch = 64;  // datagrams per send call (GSO segments or sendmmsg messages)
constexpr unsigned kRecv = 64;   // datagrams per recvmmsg
constexpr size_t kRecvSlot = 2048;
constexpr uint32_t kMagic = 0x7475726e;  // "turn": tells our probes from anything else
}  // namespace

// Per session: the window (windowed mode) as a ring of sequence numbers.
struct Shard::Flow {
  Session* s = nullptr;
  uint64_t next_seq = 0;
  uint64_t floor = 0;  // oldest sequence not yet resolved (returned or given up)
  unsigned outstanding = 0;
  uint64_t sent = 0;
  std::vector<uint64_t> ring_seq;  // seq + 1 of the slot's probe; 0: resolved
  std::vector<int64_t> ring_time;
};

Shard::Shard(std::vector<Session*> sessions, const Options& o, const std::atomic<int>& phase)
    : sessions_(std::move(sessions)), o_(o), phase_(phase), gso_(o.gso) {
  packet_size_ = core::kChannelDataHeaderSize + o_.size;  // over UDP no padding (RFC 8656 §12.5)
  // One GSO send carries at most 64 KiB (one IP datagram) and UDP_MAX_SEGMENTS segments.
  max_batch_ = std::min<size_t>(kBatch, 65000 / packet_size_);
  send_buf_.resize(kBatch * packet_size_);
  recv_buf_.resize(kRecv * kRecvSlot);
  flows_.resize(sessions_.size());
  size_t ring = 16;
  while (ring < size_t(o_.window) * 4) ring <<= 1;
  for (size_t i = 0; i < flows_.size(); ++i) {
    flows_[i].s = sessions_[i];
    if (o_.rate == 0) {
      flows_[i].ring_seq.assign(ring, 0);
      flows_[i].ring_time.assign(ring, 0);
    }
  }
  if (o_.rate > 0)
    interval_ns_ = std::max<int64_t>(1, int64_t(1e9 / (o_.rate * double(flows_.size()))));
}

Shard::~Shard() {
  join();
}

void Shard::start() {
  thread_ = std::thread([this] { run(); });
}

void Shard::join() {
  if (thread_.joinable()) thread_.join();
  if (ep_ >= 0) ::close(ep_);
  ep_ = -1;
}

uint64_t Shard::drops() const {
  uint64_t n = 0;
  for (const auto& f : flows_) n += socket_drops(f.s->fd);
  return n;
}

void Shard::write_probe(uint8_t* p, unsigned flow, uint64_t seq, int64_t t) {
  core::write_channel_data_header(p, flows_[flow].s->channel, uint16_t(o_.size));
  uint8_t* d = p + core::kChannelDataHeaderSize;
  core::store_be32(d, kMagic);
  core::store_be32(d + 4, flow);
  core::store_be64(d + 8, seq);
  core::store_be64(d + 16, uint64_t(t));
}

void Shard::send_batch(Flow& f, unsigned count, int64_t now) {
  // One flow, `count` probes already written to send_buf_: one GSO send (UDP_SEGMENT, Linux
  // >= 4.18; every segment the same size), or one sendmmsg without GSO.
  unsigned ok = 0;
  if (gso_ && count > 1) {
    iovec iov{send_buf_.data(), count * packet_size_};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(uint16_t))] = {};
    msghdr h{};
    h.msg_iov = &iov;
    h.msg_iovlen = 1;
    h.msg_control = control;
    h.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&h);
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    const uint16_t seg = uint16_t(packet_size_);
    std::memcpy(CMSG_DATA(c), &seg, sizeof seg);
    if (::sendmsg(f.s->fd, &h, MSG_DONTWAIT) >= 0) {
      ok = count;
    } else if (errno == EIO || errno == EINVAL || errno == ENOPROTOOPT) {
      gso_ = false;  // sticky; fall through to sendmmsg
    }
  }
  if (!gso_ || count == 1) {
    mmsghdr m[kBatch];
    iovec iov[kBatch];
    for (unsigned k = 0; k < count; ++k) {
      iov[k] = {send_buf_.data() + k * packet_size_, packet_size_};
      m[k].msg_hdr = msghdr{};
      m[k].msg_hdr.msg_iov = &iov[k];
      m[k].msg_hdr.msg_iovlen = 1;
    }
    const int r = ::sendmmsg(f.s->fd, m, count, MSG_DONTWAIT);
    ok = r > 0 ? unsigned(r) : 0;
  }
  // Probes the kernel did not take are resolved at once (they were never sent).
  for (unsigned k = ok; k < count; ++k) {
    if (!f.ring_seq.empty()) {
      const uint64_t seq = f.next_seq - count + k;
      f.ring_seq[seq & (f.ring_seq.size() - 1)] = 0;
      --f.outstanding;
    }
  }
  if (ok < count) send_errors_.fetch_add(count - ok, std::memory_order_relaxed);
  f.sent += ok;
  sent_.fetch_add(ok, std::memory_order_relaxed);
  (void)now;
}

void Shard::send_windowed(int64_t now) {
  for (unsigned i = 0; i < flows_.size(); ++i) {
    Flow& f = flows_[i];
    const size_t mask = f.ring_seq.size() - 1;
    for (;;) {
      unsigned room = o_.window > f.outstanding ? o_.window - f.outstanding : 0;
      // The ring must not wrap onto a probe still outstanding.
      const uint64_t ring_room = f.ring_seq.size() - (f.next_seq - f.floor);
      room = unsigned(std::min<uint64_t>({room, ring_room, max_batch_}));
      if (o_.packets)
        room = unsigned(std::min<uint64_t>(room, o_.packets - std::min(o_.packets, f.next_seq)));
      if (room == 0) break;
      for (unsigned k = 0; k < room; ++k) {
        const uint64_t seq = f.next_seq++;
        write_probe(send_buf_.data() + k * packet_size_, i, seq, now);
        f.ring_seq[seq & mask] = seq + 1;
        f.ring_time[seq & mask] = now;
        ++f.outstanding;
      }
      send_batch(f, room, now);
      if (room < max_batch_) break;
    }
  }
}

void Shard::send_paced(int64_t now) {
  // A generator that falls more than 20 ms behind its schedule skips (and counts, behind_) what
  // it could not send instead of catching up in a burst; and it sends at most kMaxBurst probes
  // before it looks at what came back. Otherwise a busy generator would time its own queues.
  if (now - next_due_ > 20'000'000) {
    behind_.fetch_add(uint64_t((now - next_due_) / interval_ns_), std::memory_order_relaxed);
    next_due_ = now;
  }
  constexpr unsigned kMaxBurst = 64;
  for (unsigned n = 0; next_due_ <= now && n < kMaxBurst; ++n) {
    Flow& f = flows_[cursor_];
    if (!o_.packets || f.next_seq < o_.packets) {
      if (n % 16 == 15) now = now_ns();  // the probe carries its real send time
      write_probe(send_buf_.data(), unsigned(cursor_), f.next_seq++, now);
      if (::send(f.s->fd, send_buf_.data(), packet_size_, MSG_DONTWAIT) == ssize_t(packet_size_)) {
        ++f.sent;
        sent_.fetch_add(1, std::memory_order_relaxed);
      } else {
        send_errors_.fetch_add(1, std::memory_order_relaxed);
      }
    }
    cursor_ = (cursor_ + 1) % flows_.size();
    next_due_ += interval_ns_;
  }
}

void Shard::expire(int64_t now) {
  const int64_t timeout = int64_t(o_.loss_timeout_ms) * 1'000'000;
  for (auto& f : flows_) {
    const size_t mask = f.ring_seq.size() - 1;
    while (f.floor < f.next_seq) {
      const size_t slot = f.floor & mask;
      if (f.ring_seq[slot] == f.floor + 1) {
        if (now - f.ring_time[slot] < timeout) break;
        f.ring_seq[slot] = 0;  // given up: frees its place in the window
        --f.outstanding;
      }
      ++f.floor;
    }
  }
}

void Shard::receive(unsigned flow) {
  Flow& f = flows_[flow];
  mmsghdr m[kRecv];
  iovec iov[kRecv];
  for (int round = 0; round < 16; ++round) {
    for (unsigned k = 0; k < kRecv; ++k) {
      iov[k] = {recv_buf_.data() + k * kRecvSlot, kRecvSlot};
      m[k].msg_hdr = msghdr{};
      m[k].msg_hdr.msg_iov = &iov[k];
      m[k].msg_hdr.msg_iovlen = 1;
    }
    const int n = ::recvmmsg(f.s->fd, m, kRecv, MSG_DONTWAIT, nullptr);
    if (n <= 0) return;
    const int64_t now = now_ns();
    const bool measuring = phase_.load(std::memory_order_relaxed) == kMeasure;
    uint64_t got = 0;
    for (int k = 0; k < n; ++k) {
      const uint8_t* p = recv_buf_.data() + size_t(k) * kRecvSlot;
      const size_t len = m[k].msg_len;
      if (len < core::kChannelDataHeaderSize + 24 || !core::looks_like_channel_data(p[0])) continue;
      const uint8_t* d = p + core::kChannelDataHeaderSize;
      if (core::load_be32(d) != kMagic || core::load_be32(d + 4) != flow) continue;
      const uint64_t seq = core::load_be64(d + 8);
      const int64_t t = int64_t(core::load_be64(d + 16));
      ++got;
      if (measuring) rtt_.record(uint64_t(now - t));
      if (!f.ring_seq.empty()) {
        const size_t slot = seq & (f.ring_seq.size() - 1);
        if (f.ring_seq[slot] == seq + 1) {
          f.ring_seq[slot] = 0;
          --f.outstanding;
        }
      }
    }
    received_.fetch_add(got, std::memory_order_relaxed);
    if (n < int(kRecv)) return;
  }
}

void Shard::run() {
  ep_ = epoll_create1(EPOLL_CLOEXEC);
  for (unsigned i = 0; i < flows_.size(); ++i) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = i;
    epoll_ctl(ep_, EPOLL_CTL_ADD, flows_[i].s->fd, &ev);
  }
  epoll_event events[256];
  next_due_ = now_ns();
  int64_t last_expire = next_due_;
  bool done_sending = false;
  while (phase_.load(std::memory_order_relaxed) != kExit) {
    int64_t now = now_ns();
    const bool sending = phase_.load(std::memory_order_relaxed) < kDrain && !done_sending;
    if (sending) {
      if (o_.rate > 0) {
        send_paced(now);
      } else {
        if (now - last_expire > 1'000'000) {
          expire(now);
          last_expire = now;
        }
        send_windowed(now);
      }
      if (o_.packets) {
        bool all = true;
        for (const auto& f : flows_) all = all && f.next_seq >= o_.packets;
        if (all) {
          done_sending = true;
          finished_.store(true, std::memory_order_relaxed);
        }
      }
    }
    // Sleep until the next paced send (at least one tick), or until something comes back.
    timespec wait{0, 5'000'000};
    if (sending && o_.rate > 0) {
      now = now_ns();
      // Still behind after a burst: only collect what came back, then go on sending.
      const int64_t until =
          next_due_ <= now ? 0 : std::max<int64_t>(next_due_ - now, int64_t(o_.tick_us) * 1000);
      wait = {time_t(until / 1'000'000'000), long(until % 1'000'000'000)};
    } else if (sending) {
      wait = {0, 1'000'000};
    }
    const int n = epoll_pwait2(ep_, events, 256, &wait, nullptr);
    for (int e = 0; e < n; ++e) receive(events[e].data.u32);
  }
}

}  // namespace bench
