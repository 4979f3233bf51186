// Splice (net/splice.h) on real socket pairs and a real event loop: bytes both ways in order
// (what each stream held before the splice first), bounded memory when one side does not read
// (the other is not read either: nothing grows, nothing is lost), RFC 6062's end (one side
// closing closes the other after what was buffered for it), the web's half-close passed on both
// ways, the drain deadline, and a TLS side.
#include "net/splice.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "stream_test_util.h"

namespace turnpike::net {
namespace {

using test::Link;
using test::Loop;
using test::TestCert;
using test::TlsClient;
using test::bytes;


struct Recorder : Splice::Owner {
  size_t a_to_b = 0;
  size_t b_to_a = 0;
  bool over = false;
  std::string why;
  void relayed(size_t ab, size_t ba) override {
    a_to_b += ab;
    b_to_a += ba;
  }
  void ended(const std::string& w) override {
    over = true;
    why = w;
  }
};

// Holds a stream's input until the splice takes it over.
struct Idle : Stream::Handler {
  void stream_readable(Stream&) override {}
  void stream_failed(Stream&, const std::string&) override {}
};

class SpliceTest : public ::testing::Test {
 protected:
  Loop loop;
  Recorder owner;
  Link client;  // a
  Link peer;    // b
  Idle idle;
  std::unique_ptr<Stream> a;
  std::unique_ptr<Stream> b;
  std::unique_ptr<Splice> splice;

  void SetUp() override {
    Stream::Limits l;
    l.in = 65536;
    l.out = 65536;
    a = std::make_unique<Stream>(std::move(client.inner), l);
    b = std::make_unique<Stream>(std::move(peer.inner), l);
    ASSERT_TRUE(a->attach(*loop.streams, idle));
    ASSERT_TRUE(b->attach(*loop.streams, idle));
  }
  void TearDown() override { splice.reset(); }

  void make(Splice::End end = Splice::End::Together, int64_t drain_ms = Splice::kDrainMs) {
    Splice::Options o;
    o.end = end;
    o.drain_ms = drain_ms;
    splice = std::make_unique<Splice>(*loop.streams, owner, std::move(a), std::move(b), o);
    ASSERT_TRUE(splice->start(0));
  }
};

TEST_F(SpliceTest, RelaysBothWaysInOrderWithWhatWasHeldFirst) {
  // The ConnectionBind response not yet sent, the peer's bytes from before the bind, and what
  // the client sent right after its ConnectionBind.
  ASSERT_TRUE(a->write_whole(bytes("response.")));
  peer.write("peer-early.");
  client.write("client-early.");
  loop.run();
  make();
  peer.write("hello");
  client.write("world");
  loop.run();
  EXPECT_EQ(client.read(), "response.peer-early.hello");
  EXPECT_EQ(peer.read(), "client-early.world");
  EXPECT_EQ(owner.b_to_a, 16u);  // the response is not relayed data
  EXPECT_EQ(owner.a_to_b, 18u);
  EXPECT_EQ(splice->b_to_a(), 16u);
  EXPECT_EQ(splice->a_to_b(), 18u);
  EXPECT_FALSE(owner.over);
  // Binary data, byte for byte: no framing of any kind.
  std::string binary;
  for (int i = 0; i < 3000; ++i) binary.push_back(char(i * 7));
  peer.write(binary);
  loop.run();
  EXPECT_EQ(client.read(), binary);
}

TEST_F(SpliceTest, SlowReaderStopsTheSenderWithoutLossOrGrowth) {
  make();
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
    loop.run(2);
  }
  // The sender is held back by TCP flow control: the splice stopped reading it, so at most its
  // buffers plus the kernel's socket buffers are in flight (about 0.6 MiB here), far below the
  // 130 MiB it would have pushed through in 2000 rounds.
  EXPECT_GE(stalled_rounds, 50u);
  EXPECT_LT(written, size_t(2) << 20);
  EXPECT_LE(owner.b_to_a, written);
  // Now the client reads: everything arrives, in order.
  std::string got;
  for (int i = 0; i < 4000 && got.size() < written; ++i) {
    got += client.read();
    loop.run(2);
  }
  ASSERT_EQ(got.size(), written);
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i], pattern[i % pattern.size()]) << "at byte " << i;
  }
  EXPECT_EQ(owner.b_to_a, written);
  EXPECT_FALSE(owner.over);
}

TEST_F(SpliceTest, PeerClosingEndsThePairAfterDeliveringWhatItSent) {
  make();
  peer.write("last words");
  ::shutdown(peer.outer, SHUT_WR);
  loop.run();
  EXPECT_TRUE(owner.over);
  EXPECT_EQ(owner.why, "closed by the peer");
  splice.reset();  // the owner closes both sockets
  bool eof = false;
  EXPECT_EQ(client.read(&eof), "last words");
  EXPECT_TRUE(eof);
  peer.read(&eof);
  EXPECT_TRUE(eof);
}

TEST_F(SpliceTest, ClientClosingEndsThePair) {
  make();
  client.write("bye");
  client.close_outer();
  loop.run();
  EXPECT_TRUE(owner.over);
  EXPECT_EQ(owner.why, "closed by the client");
  EXPECT_EQ(peer.read(), "bye");
}

TEST_F(SpliceTest, DrainThatTakesTooLongEnds) {
  // A small kernel buffer towards the client, so that what the peer sends below fills the
  // client's queue while the peer's FIN can still be read behind it.
  const int small = 16384;
  ASSERT_EQ(setsockopt(a->fd(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
  make(Splice::End::Together, 2000);
  const std::string chunk(10000, 'x');
  for (int i = 0; i < 10; ++i) {
    peer.write(chunk);
    loop.run(2);
  }
  ::shutdown(peer.outer, SHUT_WR);
  loop.run();
  EXPECT_FALSE(owner.over);  // bytes still wait for the client, which reads nothing
  splice->tick(1000);
  EXPECT_FALSE(owner.over);
  splice->tick(2000);
  EXPECT_TRUE(owner.over);
  EXPECT_EQ(owner.why, "closed by the peer (the other side did not take what was left)");
}

TEST_F(SpliceTest, HalfCloseByTheClientIsPassedOnAndTheAnswerStillArrives) {
  make(Splice::End::HalfClose);
  client.write("GET / HTTP/1.0\r\n\r\n");
  ::shutdown(client.outer, SHUT_WR);  // as `curl --http1.0` over a proxy may, or `nc -N`
  loop.run();
  bool eof = false;
  EXPECT_EQ(peer.read(&eof), "GET / HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(eof);  // the FIN was passed on
  EXPECT_FALSE(owner.over);
  // The backend answers after the client's FIN.
  peer.write("HTTP/1.0 200 OK\r\n\r\nbody");
  loop.run();
  EXPECT_EQ(client.read(&eof), "HTTP/1.0 200 OK\r\n\r\nbody");
  EXPECT_FALSE(eof);
  ::shutdown(peer.outer, SHUT_WR);
  loop.run();
  client.read(&eof);
  EXPECT_TRUE(eof);
  EXPECT_TRUE(owner.over);
  EXPECT_EQ(owner.why, "closed by both sides");
}

TEST_F(SpliceTest, HalfCloseByTheServerIsPassedOnAndTheClientMayStillSend) {
  make(Splice::End::HalfClose);
  peer.write("server says bye");
  ::shutdown(peer.outer, SHUT_WR);
  loop.run();
  bool eof = false;
  EXPECT_EQ(client.read(&eof), "server says bye");
  EXPECT_TRUE(eof);
  client.write("client still talks");
  loop.run();
  EXPECT_EQ(peer.read(&eof), "client still talks");
  EXPECT_FALSE(eof);
  EXPECT_FALSE(owner.over);
  ::shutdown(client.outer, SHUT_WR);
  loop.run();
  peer.read(&eof);
  EXPECT_TRUE(eof);
  EXPECT_TRUE(owner.over);
}

TEST_F(SpliceTest, HalfCloseDrainDeadlineForASideThatStopsReading) {
  make(Splice::End::HalfClose, 3000);
  const std::string chunk(65536, 'y');
  for (int i = 0; i < 40; ++i) {
    ::send(peer.outer, chunk.data(), chunk.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    loop.run(2);
  }
  // Bytes wait for the client, which takes none: the deadline counts from the last progress.
  splice->tick(1000);
  splice->tick(2000);
  EXPECT_FALSE(owner.over);
  client.read();  // it takes some: the clock starts again
  loop.run(2);
  splice->tick(3500);
  EXPECT_FALSE(owner.over);
  splice->tick(6499);
  EXPECT_FALSE(owner.over);
  splice->tick(6500);
  EXPECT_TRUE(owner.over);
  EXPECT_EQ(owner.why, "the client took nothing for 3 s (drain deadline)");
}

TEST_F(SpliceTest, HalfClosedWithNothingMovingEndsAfterTheDeadline) {
  make(Splice::End::HalfClose, 3000);
  ::shutdown(client.outer, SHUT_WR);
  loop.run();
  // The client's FIN came at time 0.
  splice->tick(1000);
  splice->tick(2999);
  EXPECT_FALSE(owner.over);
  splice->tick(3000);
  EXPECT_TRUE(owner.over);
  EXPECT_EQ(owner.why, "half-closed by the client, nothing moved for 3 s (drain deadline)");
}

TEST_F(SpliceTest, TlsClientSide) {
  // An RFC 6062 data connection over TLS: the client's side decrypted, the peer's plain.
  TestCert cert;
  a->start_tls(cert.server());
  TlsClient c(client.outer);
  for (int i = 0; i < 200 && !c.handshake(); ++i) loop.round();
  ASSERT_TRUE(c.handshake());
  make();
  ASSERT_TRUE(c.write("to the peer"));
  peer.write("to the client");
  std::string got;
  for (int i = 0; i < 50; ++i) {
    loop.round();
    got += c.read();
  }
  EXPECT_EQ(peer.read(), "to the peer");
  EXPECT_EQ(got, "to the client");
  // A close_notify from the client ends the pair (Together), the peer getting what was sent.
  ASSERT_TRUE(c.write("last"));
  SSL_shutdown(c.ssl.get());
  loop.run();
  EXPECT_TRUE(owner.over);
  EXPECT_EQ(owner.why, "closed by the client");
  EXPECT_EQ(peer.read(), "last");
}

}  // namespace
}  // namespace turnpike::net
