// A worker's listening TCP socket (SO_REUSEPORT: every worker has its own on the same address,
// and the kernel spreads connections over them, so a client's TURN relay path stays in the
// worker that accepted it). Each accepted connection becomes a StreamConnection.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/socket_address.h"
#include "net/libevent_ptr.h"
#include "net/unique_fd.h"

namespace turnpike::net {

class Worker;

enum class StreamKind : uint8_t {
  Tcp,  // TURN over TCP (listening-port, tcp-proxy-port)
  Tls,  // TURN over TLS (tls-listening-port, tls-proxy-port)
  Mux,  // a port shared with a web server: TLS TURN, plain TURN, or forwarded (mux-listening-port)
};
const char* stream_kind_name(StreamKind k);

struct StreamListenerSpec {
  core::SocketAddress address;
  StreamKind kind = StreamKind::Tcp;
  bool proxy_protocol = false;   // every connection starts with a PROXY v1/v2 header
  std::string describe() const;  // "127.0.0.1:5349/tls"
};

// A listening TCP socket with SO_REUSEPORT, or an invalid fd and `error`.
UniqueFd open_tcp_listener(const core::SocketAddress& addr, std::string* error);

class TcpListener {
 public:
  TcpListener(Worker& w, StreamListenerSpec spec, UniqueFd fd);
  const StreamListenerSpec& spec() const { return spec_; }
  int fd() const { return fd_.get(); }
  // After EMFILE the listener pauses for a second instead of spinning; the worker's tick calls
  // this.
  void resume_if_paused(int64_t now_ms);

 private:
  static void on_accept(evutil_socket_t fd, short what, void* arg);
  void accept_ready();

  Worker& worker_;
  StreamListenerSpec spec_;
  UniqueFd fd_;
  EventPtr ev_;
  int64_t paused_until_ms_ = 0;
};

}  // namespace turnpike::net
