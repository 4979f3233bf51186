// TcpDataPair (net/tcp_data_pair.h), the RFC 6062 splice, on real socket pairs and a real
// event_base: bytes both ways in order (what was buffered before the bind first), bounded memory
// when one side does not read (the other is not read either: nothing grows, nothing is lost),
// and the end of one side closing the other after what was buffered for it.
#include "net/tcp_data_pair.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <utility>

namespace turnpike::net {
namespace {

struct Recorder : TcpDataPair::Owner {
  size_t to_peer = 0;
  size_t to_client = 0;
  bool over = false;
  std::string why;
  void relayed(size_t p, size_t c) override {
    to_peer += p;
    to_client += c;
  }
  void ended(const std::string& w) override {
    over = true;
    why = w;
  }
};

// A connected pair of stream sockets: `outer` is the test's end, `inner` goes to the splice.
struct Link {
  int outer = -1;
  UniqueFd inner;
  Link() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    outer = fds[0];
    inner.reset(fds[1]);
  }
  ~Link() {
    if (outer >= 0) ::close(outer);
  }
  void write(const std::string& s) const {
    ASSERT_EQ(::send(outer, s.data(), s.size(), MSG_NOSIGNAL), ssize_t(s.size()));
  }
  // Everything readable now; `eof` tells whether the other end closed.
  std::string read(bool* eof = nullptr) const {
    std::string out;
    char buf[65536];
    for (;;) {
      const ssize_t n = ::recv(outer, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        out.append(buf, size_t(n));
        continue;
      }
      if (eof) *eof = n == 0;
      return out;
    }
  }
};

class DataPair : public ::testing::Test {
 protected:
  event_base* base = event_base_new();
  Recorder owner;
  Link peer;
  Link client;
  std::unique_ptr<TcpDataPair> pair;

  ~DataPair() override {
    pair.reset();  // its events before the base
    event_base_free(base);
  }

  void make(const std::string& early_from_peer, const std::string& unsent,
            const std::string& unread) {
    ByteBuffer held(TcpDataPair::kBuffer);
    held.append(core::Bytes(reinterpret_cast<const uint8_t*>(early_from_peer.data()),
                            early_from_peer.size()));
    StreamHandoff h;
    h.fd = std::move(client.inner);
    h.unsent.assign(unsent.begin(), unsent.end());
    h.unread.assign(unread.begin(), unread.end());
    pair = std::make_unique<TcpDataPair>(base, owner, std::move(peer.inner), std::move(held),
                                         std::move(h));
    ASSERT_TRUE(pair->start(0));
  }

  void pump(int rounds = 20) {
    for (int i = 0; i < rounds; ++i) event_base_loop(base, EVLOOP_NONBLOCK);
  }
};

TEST_F(DataPair, RelaysBothWaysInOrderWithWhatWasHeldFirst) {
  // The ConnectionBind response not yet sent, the peer's bytes from before the bind, and what
  // the client sent right after its ConnectionBind.
  make("peer-early.", "response.", "client-early.");
  peer.write("hello");
  client.write("world");
  pump();
  EXPECT_EQ(client.read(), "response.peer-early.hello");
  EXPECT_EQ(peer.read(), "client-early.world");
  EXPECT_EQ(owner.to_client, 16u);  // the response is not relayed data
  EXPECT_EQ(owner.to_peer, 18u);
  EXPECT_EQ(pair->bytes_to_client(), 16u);
  EXPECT_EQ(pair->bytes_to_peer(), 18u);
  EXPECT_FALSE(owner.over);
  // Binary data, byte for byte: no framing of any kind.
  std::string binary;
  for (int i = 0; i < 3000; ++i) binary.push_back(char(i * 7));
  peer.write(binary);
  pump();
  EXPECT_EQ(client.read(), binary);
}

TEST_F(DataPair, SlowReaderStopsTheSenderWithoutLossOrGrowth) {
  make("", "", "");
  // The peer writes as fast as it can; the client reads nothing.
  std::string pattern;
  for (int i = 0; i < 65536; ++i) pattern.push_back(char('a' + i % 23));
  size_t written = 0;
  size_t stalled_rounds = 0;
  for (int i = 0; i < 2000 && stalled_rounds < 50; ++i) {
    const size_t at = written % pattern.size();
    const ssize_t n =
        ::send(peer.outer, pattern.data() + at, pattern.size() - at, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      written += size_t(n);
      stalled_rounds = 0;
    } else {
      ++stalled_rounds;
    }
    pump(2);
  }
  // The sender is held back by TCP flow control: the splice stopped reading it, so at most
  // its buffer plus the kernel's socket buffers are in flight (about 0.5 MiB here), far below
  // the 130 MiB it would have pushed through in 2000 rounds.
  EXPECT_GE(stalled_rounds, 50u);
  EXPECT_LT(written, size_t(2) << 20);
  EXPECT_LE(owner.to_client, written);
  // Now the client reads: everything arrives, in order.
  std::string got;
  for (int i = 0; i < 2000 && got.size() < written; ++i) {
    got += client.read();
    pump(2);
  }
  ASSERT_EQ(got.size(), written);
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i], pattern[i % pattern.size()]) << "at byte " << i;
  }
  EXPECT_EQ(owner.to_client, written);
  EXPECT_FALSE(owner.over);
}

TEST_F(DataPair, PeerClosingEndsThePairAfterDeliveringWhatItSent) {
  make("", "", "");
  peer.write("last words");
  ::shutdown(peer.outer, SHUT_WR);
  pump();
  EXPECT_TRUE(owner.over);
  EXPECT_EQ(owner.why, "closed by the peer");
  pair.reset();  // the owner closes both sockets
  bool eof = false;
  EXPECT_EQ(client.read(&eof), "last words");
  EXPECT_TRUE(eof);
  peer.read(&eof);
  EXPECT_TRUE(eof);
}

TEST_F(DataPair, ClientClosingEndsThePair) {
  make("", "", "");
  client.write("bye");
  ::close(client.outer);
  client.outer = -1;
  pump();
  EXPECT_TRUE(owner.over);
  EXPECT_EQ(owner.why, "closed by the client");
  EXPECT_EQ(peer.read(), "bye");
}

}  // namespace
}  // namespace turnpike::net
