// A connection of the shared port (mux-listening-port) that belongs to the web server: its
// bytes, starting with the ClientHello already read, are forwarded unchanged to
// mux-web-backend and the backend's bytes back, so TLS is terminated by the web server as if
// it listened on the port itself. With mux-proxy-protocol a PROXY v2 header goes first, so the
// backend sees the client's address (nginx: `listen 4444 ssl proxy_protocol`).
//
// The two are a Splice that passes half-closes on (Splice::End::HalfClose): a client may shut
// its write side and still read the answer, the web server may close first and still read.
// Each direction holds at most kClientIn + kBackendOut (or kBackendIn + kClientOut) bytes:
// beyond that, reading from the sending side stops until the other side catches up (TCP flow
// control, nothing dropped: this is HTTP, not media). A side that takes nothing of what waits
// for it, or a half-closed connection on which nothing moves, is closed after
// mux-web-drain-timeout.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/socket_address.h"
#include "net/connection_limits.h"
#include "net/connection_set.h"
#include "net/splice.h"
#include "net/stream.h"

namespace turnpike::net {

class Worker;

class WebProxy final : public Connection, private Stream::Handler, private Splice::Owner {
 public:
  static constexpr size_t kClientIn = 64 * 1024;
  static constexpr size_t kClientOut = 128 * 1024;
  static constexpr size_t kBackendIn = 64 * 1024;
  static constexpr size_t kBackendOut = 128 * 1024;
  static constexpr int64_t kConnectTimeoutMs = 10'000;

  // `client` holds what was read from it so far (the ClientHello) in its input.
  WebProxy(Worker& w, std::unique_ptr<Stream> client, const core::SocketAddress& client_addr,
           const core::SocketAddress& local, std::optional<ConnectionLimits::Slot> slot,
           int64_t now_ms);
  ~WebProxy() override;
  // Connects to the backend; what the client sent goes first once it is there.
  bool start();

  void tick(const relay::Now& now) override;
  void finish(const relay::Now& now) override;

 private:
  // Stream::Handler, while the backend connects
  void stream_readable(Stream&) override {}
  void stream_connected(Stream& s, int error) override;
  void stream_failed(Stream& s, const std::string& why) override;
  // Splice::Owner
  void relayed(size_t, size_t) override {}
  void ended(const std::string& why) override { end(why); }

  void end(const std::string& why, bool notice = false);

  Worker& worker_;
  std::unique_ptr<Stream> client_;  // until connected
  std::unique_ptr<Stream> backend_;
  core::SocketAddress client_addr_;
  core::SocketAddress local_;
  std::optional<ConnectionLimits::Slot> slot_;
  std::unique_ptr<Splice> splice_;
  int64_t connect_deadline_ms_;
  std::string reason_;
};

}  // namespace turnpike::net
