// Two streams relaying each other's bytes as they are, both ways, with no framing: an RFC 6062
// data connection and its peer connection (§5.4), and a connection of the shared port with the
// web server behind it (tls_mux.h). The splice owns both streams.
//
// Memory stays bounded and nothing is dropped: bytes move from one stream's input to the other's
// output queue as far as it has room; when it is full, reading from the sending side stops (TCP
// flow control then slows that sender down) and resumes once the queue fell to half.
//
// How it ends depends on the use:
//   Together   (RFC 6062) when either side ends or fails, the other is closed too, once it got
//              what was buffered for it; that drain may take at most kDrainMs.
//   HalfClose  (the web) a side that shuts its write side (a FIN) is passed on as a FIN, and the
//              other direction goes on: an HTTP client may shut its side once the request is
//              out and still read the whole response, and a server may close first and still
//              read what the client sends. The splice ends when both directions ended, or when
//              one side fails. A drain deadline bounds what a side may cost without making
//              progress: bytes waiting for a side that takes none of them, or a half-closed
//              connection on which nothing moves, for `drain_ms`, end it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "net/stream.h"

namespace turnpike::net {

class Splice final : private Stream::Handler {
 public:
  enum class End : uint8_t { Together, HalfClose };
  static constexpr int64_t kDrainMs = 10'000;  // Together

  struct Options {
    End end = End::Together;
    int64_t drain_ms = kDrainMs;
    const char* a_name = "client";  // for the reasons given to the owner
    const char* b_name = "peer";
  };

  class Owner {
   public:
    // Bytes moved from a to b and from b to a (as they are taken from the sending side).
    virtual void relayed(size_t a_to_b, size_t b_to_a) = 0;
    // The splice is over; no callback follows. The owner destroys it (and the streams).
    virtual void ended(const std::string& why) = 0;

   protected:
    ~Owner() = default;
  };

  // `a` and `b` are attached to `loop` (or are attached to it here); what each one's input
  // already holds is relayed first, after what each one's output already queued.
  Splice(StreamLoop& loop, Owner& owner, std::unique_ptr<Stream> a, std::unique_ptr<Stream> b,
         const Options& o);
  ~Splice();
  Splice(const Splice&) = delete;
  Splice& operator=(const Splice&) = delete;

  // Takes both streams over and relays what was held. False when that already ended it.
  bool start(int64_t now_ms);
  // No more I/O and no more callbacks (the owner is closing): both streams close now.
  void stop();
  // About once a second: the drain deadline.
  void tick(int64_t now_ms);

  uint64_t a_to_b() const { return a_to_b_; }
  uint64_t b_to_a() const { return b_to_a_; }

 private:
  struct Side {
    std::unique_ptr<Stream> s;
    const char* name;
    bool done = false;       // its input ended and all of it was passed on
    uint64_t sent_seen = 0;  // its bytes_out at the last look (drain deadline)
    int64_t stalled_ms = 0;  // since when bytes wait for it and it takes none
  };

  void stream_readable(Stream& s) override;
  void stream_writable(Stream& s) override;
  void stream_failed(Stream& s, const std::string& why) override;

  Side& side(Stream& s) { return &s == a_.s.get() ? a_ : b_; }
  Side& other(Side& x) { return &x == &a_ ? b_ : a_; }
  // Moves what `from` holds into `to`, as far as it has room; passes an end on.
  void move(Side& from, Side& to);
  void side_ended(Side& from, Side& to);
  void check_finished();
  void end(const std::string& why);

  StreamLoop& loop_;
  Owner& owner_;
  Options o_;
  Side a_;
  Side b_;
  uint64_t a_to_b_ = 0;
  uint64_t b_to_a_ = 0;
  bool over_ = false;
  bool draining_ = false;  // Together: one side ended, the other gets what is left
  std::string drain_reason_;
  int64_t now_ms_ = 0;
  uint64_t moved_seen_ = 0;        // a_to_b_ + b_to_a_ at the last look (drain deadline)
  int64_t quiet_ms_ = 0;           // since when nothing moved (HalfClose, once half-closed)
  int64_t drain_deadline_ms_ = 0;  // Together
};

}  // namespace turnpike::net
