// Stream (net/stream.h) on real socket pairs and a real event loop, plain and TLS: input up to
// its limit and no further (the sender is held back, nothing is lost), writes queued and sent
// once per round, all-or-nothing and partial writes, half-close both ways, a TLS session made
// only when the client speaks, bytes read before TLS began fed to it, one record per message
// and one send per round, close_notify, moves between loops, and non-blocking connects.
#include "net/stream.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
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
using test::text;


// Takes everything it is given (or nothing, when `hold` is set) and records what happened.
struct Recorder : Stream::Handler {
  std::string got;
  bool hold = false;
  int readable = 0;
  int writable = 0;
  int connected = -1;
  std::string failed;
  void stream_readable(Stream& s) override {
    ++readable;
    if (hold) return;
    got += text(s.input());
    s.consume(s.input().size());
  }
  void stream_writable(Stream&) override { ++writable; }
  void stream_connected(Stream&, int error) override { connected = error; }
  void stream_failed(Stream&, const std::string& why) override { failed = why; }
};

Stream::Limits small(size_t in, size_t out) {
  Stream::Limits l;
  l.in = in;
  l.out = out;
  l.in_initial = l.out_initial = 512;
  return l;
}

class StreamTest : public ::testing::Test {
 protected:
  Loop loop;
  Link link;
  Recorder h;
  std::unique_ptr<Stream> s;

  void make(const Stream::Limits& l = Stream::Limits()) {
    s = std::make_unique<Stream>(std::move(link.inner), l);
    ASSERT_TRUE(s->attach(*loop.streams, h));
  }
  void TearDown() override { s.reset(); }
};

TEST_F(StreamTest, ReadsWhatArrivesAndSeesTheEnd) {
  make();
  link.write("hello ");
  loop.run();
  link.write("world");
  loop.run();
  EXPECT_EQ(h.got, "hello world");
  EXPECT_FALSE(s->read_ended());
  ::shutdown(link.outer, SHUT_WR);
  loop.run();
  EXPECT_TRUE(s->read_ended());
  EXPECT_FALSE(s->close_notify_received());
  EXPECT_EQ(s->counters().bytes_in, 11u);
}

TEST_F(StreamTest, InputStopsAtItsLimitAndHoldsTheSenderBackWithoutLoss) {
  make(small(4096, 4096));
  h.hold = true;
  std::string sent;
  for (int i = 0; i < 200; ++i) {
    const std::string chunk(1000, char('a' + i % 26));
    if (::send(link.outer, chunk.data(), chunk.size(), MSG_DONTWAIT | MSG_NOSIGNAL) <= 0) break;
    sent += chunk;
  }
  loop.run();
  EXPECT_EQ(s->input().size(), 4096u);  // full, and no more was read
  EXPECT_TRUE(s->input_full());
  // The rest waits in the kernel; consuming lets it in, in order.
  std::string got;
  for (int i = 0; i < 2000 && got.size() < sent.size(); ++i) {
    got += text(s->input());
    s->consume(s->input().size());
    loop.round();
  }
  EXPECT_EQ(got, sent);
}

TEST_F(StreamTest, WritesOfOneRoundLeaveInOneSend) {
  make();
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(s->write_whole(bytes("message " + std::to_string(i) + ";")));
  EXPECT_EQ(link.read(), "");  // nothing before the round's end
  EXPECT_EQ(s->counters().sends, 0u);
  loop.streams->flush();
  std::string expect;
  for (int i = 0; i < 20; ++i) expect += "message " + std::to_string(i) + ";";
  EXPECT_EQ(link.read(), expect);
  EXPECT_EQ(s->counters().writes, 20u);
  EXPECT_EQ(s->counters().sends, 1u);
}

TEST_F(StreamTest, WholeWritesAreAllOrNothingAndRoomIsAnnouncedAtHalf) {
  make(small(4096, 8192));
  const std::string msg(1000, 'm');
  // The test's end does not read: the kernel takes what it can, then the queue fills.
  size_t accepted = 0, refused = 0;
  for (int i = 0; i < 2000 && refused == 0; ++i) {
    if (s->write_whole(bytes(msg))) {
      ++accepted;
    } else {
      ++refused;
    }
    if (i % 8 == 0) loop.round();
  }
  ASSERT_EQ(refused, 1u);
  EXPECT_LE(s->output_pending(), 8192u);
  EXPECT_EQ(s->write_some(bytes(msg)), s->output_room());  // partial: as much as fits
  EXPECT_EQ(h.writable, 0);
  // Reading makes room; the handler hears of it once the queue fell to half.
  std::string got;
  for (int i = 0; i < 200 && h.writable == 0; ++i) {
    got += link.read();
    loop.round();
  }
  EXPECT_EQ(h.writable, 1);
  EXPECT_LE(s->output_pending(), 4096u);
  for (int i = 0; i < 200; ++i) {
    got += link.read();
    loop.round();
  }
  EXPECT_EQ(got.size() % 1000, s->counters().bytes_out % 1000);
  EXPECT_EQ(got.size(), s->counters().bytes_out);
  EXPECT_EQ(got.substr(0, accepted * 1000), std::string(accepted * 1000, 'm'));
}

TEST_F(StreamTest, ShutdownWriteSendsAFinAfterTheQueueAndReadingGoesOn) {
  make();
  ASSERT_TRUE(s->write_whole(bytes("last words")));
  s->shutdown_write();
  EXPECT_FALSE(s->write_whole(bytes("too late")));
  loop.run();
  bool eof = false;
  EXPECT_EQ(link.read(&eof), "last words");
  EXPECT_TRUE(eof);
  EXPECT_TRUE(s->write_shut());
  EXPECT_EQ(h.writable, 1);  // told that the FIN went
  // Half-closed: the other direction still works.
  link.write("an answer after our FIN");
  loop.run();
  EXPECT_EQ(h.got, "an answer after our FIN");
  EXPECT_TRUE(h.failed.empty());
}

TEST_F(StreamTest, ErrorsEndTheStreamOnce) {
  make();
  link.close_outer();
  ASSERT_TRUE(s->write_whole(bytes("to nobody")));
  loop.run();
  EXPECT_TRUE(s->failed() || s->read_ended());
  ASSERT_TRUE(s->write_whole(bytes("again")) || s->failed());
  loop.run();
  EXPECT_TRUE(s->failed());
  EXPECT_NE(h.failed.find("send failed"), std::string::npos) << h.failed;
}

TEST_F(StreamTest, MovesBetweenLoopsWithItsBuffers) {
  make();
  h.hold = true;
  link.write("unread before the move");
  loop.run();
  ASSERT_TRUE(s->write_whole(bytes("queued before the move")));
  s->hold();
  s->detach();
  Loop other;
  Recorder h2;
  ASSERT_TRUE(s->attach(*other.streams, h2));
  link.write(", and after");
  other.run();
  EXPECT_EQ(link.read(), "queued before the move");
  EXPECT_EQ(h2.got, "unread before the move, and after");
  EXPECT_EQ(h.readable, 1);  // the first loop heard nothing after the move
  s.reset();                 // its events belong to `other`, destroyed first
}

TEST_F(StreamTest, ConnectsWithoutBlocking) {
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  socklen_t len = sizeof a;
  getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len);
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
  ::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
  s = std::make_unique<Stream>(std::move(fd), Stream::Limits(), /*connecting=*/true);
  ASSERT_TRUE(s->attach(*loop.streams, h));
  ASSERT_TRUE(s->write_whole(bytes("queued while connecting")));
  for (int i = 0; i < 100 && h.connected < 0; ++i) loop.round();
  EXPECT_EQ(h.connected, 0);
  loop.run();
  const int accepted = ::accept(listener, nullptr, nullptr);
  ASSERT_GE(accepted, 0);
  char buf[100];
  const ssize_t n = ::recv(accepted, buf, sizeof buf, 0);
  EXPECT_EQ(std::string(buf, size_t(std::max<ssize_t>(n, 0))), "queued while connecting");
  ::close(accepted);
  // A port nobody listens on: the connect fails, and the handler hears why.
  ::close(listener);
  UniqueFd fd2(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
  ::connect(fd2.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
  Recorder h2;
  Stream refused(std::move(fd2), Stream::Limits(), true);
  ASSERT_TRUE(refused.attach(*loop.streams, h2));
  for (int i = 0; i < 100 && h2.connected < 0; ++i) loop.round();
  EXPECT_EQ(h2.connected, ECONNREFUSED);
}

// ---- TLS ---------------------------------------------------------------------------------

class TlsStreamTest : public StreamTest {
 protected:
  TestCert cert;
  // Runs rounds and the client's handshake until it completes.
  void handshake(TlsClient& c) {
    for (int i = 0; i < 200 && !c.handshake(); ++i) loop.round();
    ASSERT_TRUE(c.handshake());
    loop.run();
  }
};

TEST_F(TlsStreamTest, TheSessionIsMadeWhenTheClientSpeaks) {
  make();
  s->start_tls(cert.server());
  EXPECT_TRUE(s->is_tls());
  loop.run();
  EXPECT_EQ(s->tls(), nullptr);  // a silent connection costs no TLS memory
  TlsClient c(link.outer, "stun.turn");
  handshake(c);
  ASSERT_NE(s->tls(), nullptr);
  EXPECT_TRUE(s->handshake_done());
  EXPECT_GE(h.readable, 1);  // told once the handshake finished
  EXPECT_NE(s->tls()->describe().find("alpn=stun.turn"), std::string::npos);
}

TEST_F(TlsStreamTest, EachMessageIsOneRecordAndARoundIsOneSend) {
  make();
  s->start_tls(cert.server());
  TlsClient c(link.outer);
  handshake(c);
  const uint64_t sends_before = s->counters().sends;
  std::string expect;
  for (int i = 0; i < 30; ++i) {
    const std::string m = "ChannelData " + std::to_string(i);
    ASSERT_TRUE(s->write_whole(bytes(m)));
    expect += m;
  }
  loop.streams->flush();
  EXPECT_EQ(s->counters().records, 30u);
  EXPECT_EQ(s->counters().sends - sends_before, 1u);
  std::string got;
  EXPECT_EQ(c.read_calls(&got), 30);  // one message per SSL_read, as clients read them
  EXPECT_EQ(got, expect);
}

TEST_F(TlsStreamTest, PlaintextBothWaysAndCloseNotify) {
  make();
  s->start_tls(cert.server());
  TlsClient c(link.outer);
  handshake(c);
  ASSERT_TRUE(c.write("from the client"));
  loop.run();
  EXPECT_EQ(h.got, "from the client");
  // A splice's bytes (write_some) become records as large as fit.
  const std::string big(40000, 'b');
  size_t queued = 0;
  std::string got;
  for (int i = 0; i < 500 && got.size() < big.size(); ++i) {
    queued += s->write_some(bytes(big.substr(queued)));
    loop.round();
    got += c.read();
  }
  EXPECT_EQ(got, big);
  EXPECT_LE(s->counters().records, 6u);
  SSL_shutdown(c.ssl.get());
  loop.run();
  EXPECT_TRUE(s->read_ended());
  EXPECT_TRUE(s->close_notify_received());
  s->close_now();  // answers with its own close_notify
  bool closed = false;
  c.read(&closed);
  EXPECT_TRUE(closed);
}

TEST_F(TlsStreamTest, BytesReadBeforeTlsBeganGoToTheSessionFirst) {
  // The shared port reads the ClientHello as plain bytes to route it; TLS then starts with it.
  make();
  h.hold = true;
  TlsClient c(link.outer);
  c.handshake();  // sends the ClientHello
  loop.run();
  ASSERT_GT(s->input().size(), 0u);
  EXPECT_EQ(s->input()[0], 0x16);  // a TLS handshake record
  s->start_tls(cert.server());
  EXPECT_TRUE(s->input().empty());
  h.hold = false;
  handshake(c);
  EXPECT_TRUE(s->handshake_done());
  ASSERT_TRUE(c.write("after"));
  loop.run();
  EXPECT_EQ(h.got, "after");
}

TEST_F(TlsStreamTest, NotTlsFailsTheHandshakeWithAReason) {
  make();
  s->start_tls(cert.server());
  link.write(std::string("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  loop.run();
  EXPECT_TRUE(s->failed());
  EXPECT_TRUE(s->tls_failed());
  EXPECT_EQ(h.failed.rfind("TLS handshake failed: ", 0), 0u) << h.failed;
}

}  // namespace
}  // namespace turnpike::net
