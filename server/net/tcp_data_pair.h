// RFC 6062 §5.4: once a ConnectionBind succeeded, the client's data connection and the peer
// connection relay each other's bytes as they are, both ways, with no STUN framing.
//
// This is that splice: two non-blocking sockets (the client's possibly with TLS, whose session
// came along from the StreamConnection), and one buffer of kBuffer bytes per direction. Memory
// stays bounded: when the buffer towards one side is full, reading from the other side stops
// (TCP flow control then slows that sender down) and resumes once half of it has been sent;
// nothing is dropped. When one side closes or fails, what is buffered for the other is still
// delivered (for at most kDrainMs), then both are closed.
//
// The relayed byte counts go to the owner as they are read; no allocation, no logging per read.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "net/byte_buffer.h"
#include "net/libevent_ptr.h"
#include "net/stream_handoff.h"
#include "net/unique_fd.h"

namespace turnpike::net {

class TcpDataPair {
 public:
  static constexpr size_t kBuffer = 64 * 1024;  // per direction
  static constexpr int64_t kDrainMs = 10'000;

  class Owner {
   public:
    // Bytes read from the client (for the peer) and from the peer (for the client).
    virtual void relayed(size_t to_peer, size_t to_client) = 0;
    // The pair is over (a side closed or failed); no callback follows.
    virtual void ended(const std::string& why) = 0;

   protected:
    ~Owner() = default;
  };

  // `to_client`: what the peer sent before the bind (relayed first, after client.unsent).
  // `client.unread`: what the client sent after its ConnectionBind (relayed to the peer first).
  TcpDataPair(event_base* base, Owner& owner, UniqueFd peer, ByteBuffer to_client,
              StreamHandoff client);
  ~TcpDataPair();
  TcpDataPair(const TcpDataPair&) = delete;
  TcpDataPair& operator=(const TcpDataPair&) = delete;

  // Registers the events and relays what was buffered. False when that already failed.
  bool start(int64_t now_ms);
  // No more I/O and no more callbacks (the owner is closing).
  void stop();
  // About once a second: ends a drain that takes too long.
  void tick(int64_t now_ms);

  uint64_t bytes_to_peer() const { return total_to_peer_; }
  uint64_t bytes_to_client() const { return total_to_client_; }

 private:
  struct Side {
    UniqueFd fd;
    EventPtr read_ev;
    EventPtr write_ev;
    bool reading = false;
    bool writing = false;
    bool eof = false;
  };

  static void on_peer_read(evutil_socket_t, short, void* arg);
  static void on_peer_write(evutil_socket_t, short, void* arg);
  static void on_client_read(evutil_socket_t, short, void* arg);
  static void on_client_write(evutil_socket_t, short, void* arg);

  // What one send_some() did: bytes taken by the socket; `blocked` when it could not take all
  // (its write event is then armed); `failed` once the pair has ended.
  struct Sent {
    size_t n = 0;
    bool blocked = false;
    bool failed = false;
  };

  void peer_readable();
  void client_readable();
  // One non-blocking recv from s into space, EINTR retried: the bytes read, 0 when the socket
  // has nothing now or at its end (s.eof is then set and reading stops), -1 once the pair has
  // ended. `who` names the side in the reason.
  ssize_t recv_some(Side& s, const char* who, core::MutableBytes space);
  // One non-blocking send of d to s, EINTR retried.
  Sent send_some(Side& s, const char* who, core::Bytes d);
  // Moves what waits towards each side into its socket (through TLS for the client). False
  // once the pair has ended.
  bool flush_to_peer();
  bool flush_to_client();
  // Decrypts what the TLS session holds into to_peer_, as far as there is room.
  bool pump_tls_in();
  bool client_output_empty() const;
  void after_io();  // resumes paused reads, ends a finished drain
  void set_reading(Side& s, bool on);
  void set_writing(Side& s, bool on);
  void end(const std::string& why);

  Owner& owner_;
  event_base* base_;
  Side peer_;
  Side client_;
  std::unique_ptr<TlsStream> tls_;
  bool tls_wants_write_ = false;  // TLS could not go on reading until its output drained
  std::vector<uint8_t> prefix_;   // plain TCP: queued for the client before the bind
  size_t prefix_sent_ = 0;
  ByteBuffer to_peer_;
  ByteBuffer to_client_;
  uint64_t total_to_peer_ = 0;
  uint64_t total_to_client_ = 0;
  bool done_ = false;
  bool draining_ = false;
  int64_t now_ms_ = 0;
  int64_t drain_deadline_ms_ = 0;
  std::string drain_reason_;
};

}  // namespace turnpike::net
