// UdpSender (net/udp_sender.h) on real loopback sockets: datagram boundaries and contents survive
// GSO batching, runs split where they must, and the GSO-less path delivers the same datagrams.
#include "net/udp_sender.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace turnpike::net {
namespace {

struct Socket {
  int fd = -1;
  core::SocketAddress address;
  Socket() {
    fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    const int size = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    address = *core::SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&a), len);
  }
  ~Socket() { ::close(fd); }
  std::vector<std::string> drain() const {
    std::vector<std::string> out;
    char buf[70000];
    for (;;) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n < 0) return out;
      out.emplace_back(buf, size_t(n));
    }
  }
};

core::Bytes bytes(const std::string& s) {
  return core::Bytes(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

std::vector<std::string> payloads(const std::vector<size_t>& sizes) {
  std::vector<std::string> p;
  for (size_t i = 0; i < sizes.size(); ++i) p.push_back(std::string(sizes[i], char('a' + i % 26)));
  return p;
}

class UdpSenderTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (!GetParam()) sender.disable_gso();
  }
  UdpSender sender;
  Socket from, to, other;
};

TEST_P(UdpSenderTest, SameDestinationRunKeepsEveryDatagram) {
  const auto p = payloads({100, 100, 100, 100, 100, 100, 100, 100, 100, 40});  // last shorter
  for (const auto& s : p) sender.queue(from.fd, to.address, bytes(s));
  sender.flush();
  EXPECT_EQ(to.drain(), p);
  EXPECT_EQ(sender.stats().datagrams, p.size());
  EXPECT_EQ(sender.stats().dropped, 0u);
  if (sender.gso_enabled()) {
    EXPECT_EQ(sender.stats().syscalls, 1u);  // one sendmmsg carrying one UDP_SEGMENT message
    EXPECT_EQ(sender.stats().gso_sends, 1u);
  } else {
    EXPECT_EQ(sender.stats().gso_sends, 0u);
  }
}

TEST_P(UdpSenderTest, ShorterSegmentEndsARun) {
  const auto p = payloads({200, 200, 50, 200, 200});
  for (const auto& s : p) sender.queue(from.fd, to.address, bytes(s));
  sender.flush();
  EXPECT_EQ(to.drain(), p);
  if (sender.gso_enabled()) {
    EXPECT_EQ(sender.stats().gso_sends, 2u);  // {200,200,50} {200,200}
  }
}

TEST_P(UdpSenderTest, InterleavedDestinationsArriveInOrder) {
  const auto p = payloads({60, 61, 62, 63, 64, 65});
  for (size_t i = 0; i < p.size(); ++i)
    sender.queue(from.fd, (i % 2 ? other : to).address, bytes(p[i]));
  sender.flush();
  EXPECT_EQ(to.drain(), (std::vector<std::string>{p[0], p[2], p[4]}));
  EXPECT_EQ(other.drain(), (std::vector<std::string>{p[1], p[3], p[5]}));
  EXPECT_EQ(sender.stats().syscalls, 1u);  // one socket: one sendmmsg
}

TEST_P(UdpSenderTest, FullQueueFlushesByItself) {
  std::vector<std::string> p;
  for (unsigned i = 0; i < UdpSender::kCapacity * 2 + 5; ++i)
    p.push_back(std::string(300, char('A' + i % 26)));
  for (const auto& s : p) sender.queue(from.fd, to.address, bytes(s));
  sender.flush();
  EXPECT_EQ(to.drain(), p);
  EXPECT_TRUE(sender.empty());
}

TEST_P(UdpSenderTest, TwoSocketsTwoCalls) {
  Socket from2;
  const auto p = payloads({80, 80, 80, 80});
  sender.queue(from.fd, to.address, bytes(p[0]));
  sender.queue(from.fd, to.address, bytes(p[1]));
  sender.queue(from2.fd, to.address, bytes(p[2]));
  sender.queue(from2.fd, to.address, bytes(p[3]));
  sender.flush();
  EXPECT_EQ(to.drain(), p);
  EXPECT_EQ(sender.stats().syscalls, 2u);
}

TEST_P(UdpSenderTest, LargeDatagramsStayUnder64KiBPerSend) {
  std::vector<std::string> p;
  for (unsigned i = 0; i < 60; ++i) p.push_back(std::string(1400, char('a' + i % 26)));  // 84 KB
  for (const auto& s : p) sender.queue(from.fd, to.address, bytes(s));
  sender.flush();
  EXPECT_EQ(to.drain(), p);
  EXPECT_EQ(sender.stats().dropped, 0u);
}

INSTANTIATE_TEST_SUITE_P(Gso, UdpSenderTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "WithGso" : "WithoutGso"; });

}  // namespace
}  // namespace turnpike::net
