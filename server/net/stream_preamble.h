// What some ports read before TURN (or the web server) begins, and where the connection goes
// then. It runs before a StreamConnection or a WebProxy exists, on the connection's stream:
//
//   PROXY header (tcp-proxy-port, tls-proxy-port; PROXY protocol v1 or v2): the client's
//     address, from a proxy listed in proxy-trusted-ip only (anyone else could claim any
//     address). The per-address limit then counts the real client, not the proxy.
//   ClientHello routing (mux-listening-port, tls_mux.h): TLS for TURN, TLS for the web server,
//     or plain STUN.
//
// Then the stream goes on, with what was read after the preamble still in its input: to a
// StreamConnection (plain TURN; TLS TURN, those bytes being the start of TLS) or to a WebProxy
// (those bytes forwarded first, byte for byte). This object is then done.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/socket_address.h"
#include "net/connection_limits.h"
#include "net/connection_set.h"
#include "net/stream.h"
#include "net/tcp_listener.h"

namespace turnpike::net {

class Worker;

class StreamPreamble final : public Connection, private Stream::Handler {
 public:
  // `slot` is empty on PROXY-protocol listeners: the client is only known after the header.
  StreamPreamble(Worker& w, const StreamListenerSpec& spec, std::unique_ptr<Stream> stream,
                 const core::SocketAddress& peer, std::optional<ConnectionLimits::Slot> slot,
                 int64_t now_ms);
  ~StreamPreamble() override;

  // Attaches the stream. False (and it should be dropped) on failure.
  bool start();

  // Connection: a client that says nothing (or half a header) is closed after
  // max-allocate-timeout, as any client without an allocation.
  void tick(const relay::Now& now) override;
  void finish(const relay::Now& now) override;

 private:
  enum class Stage : uint8_t { ProxyHeader, Classify };

  void stream_readable(Stream& s) override;
  void stream_failed(Stream& s, const std::string& why) override;

  bool from_trusted_proxy() const;  // proxy-trusted-ip
  void read_proxy_header();
  void route_mux();
  void to_turn(bool tls);
  void to_web();
  // Closes: `notice` lines are logged at notice level (rate-limited).
  void close(const std::string& why, bool notice);

  Worker& worker_;
  StreamListenerSpec spec_;
  std::unique_ptr<Stream> stream_;  // until handed on
  core::SocketAddress peer_;
  std::optional<ConnectionLimits::Slot> slot_;
  Stage stage_;
  int64_t since_ms_;
  std::string reason_;
};

}  // namespace turnpike::net
