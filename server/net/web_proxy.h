// A connection of the shared port (mux-listening-port) that belongs to the web server: its
// bytes, starting with the ClientHello already read, are forwarded unchanged to
// mux-web-backend and the backend's bytes back, so TLS is terminated by the web server as if
// it listened on the port itself. With mux-proxy-protocol a PROXY v2 header goes first, so the
// backend sees the client's address (nginx: `listen 4444 ssl proxy_protocol`).
//
// Each direction buffers at most kMaxBuffered bytes: beyond that, reading from the sending side
// stops until the other side catches up (TCP flow control, nothing dropped: this is HTTP, not
// media).
#pragma once

#include <event2/bufferevent.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "core/bytes.h"
#include "core/socket_address.h"
#include "net/connection_limits.h"
#include "net/connection_set.h"
#include "net/unique_fd.h"

namespace turnpike::net {

class Worker;

struct BufferEventDeleter {
  void operator()(bufferevent* b) const { bufferevent_free(b); }  // closes its socket too
};
using BufferEventPtr = std::unique_ptr<bufferevent, BufferEventDeleter>;

class WebProxy final : public Connection {
 public:
  static constexpr size_t kMaxBuffered = 256 * 1024;

  WebProxy(Worker& w, UniqueFd client, const core::SocketAddress& client_addr,
           const core::SocketAddress& local, std::optional<ConnectionLimits::Slot> slot);
  ~WebProxy() override;
  // Connects to the backend and queues `first` (what was read from the client) for it.
  bool start(core::Bytes first);

  void finish(const relay::Now& now) override;

 private:
  static void on_read(bufferevent* bev, void* arg);
  static void on_write(bufferevent* bev, void* arg);
  static void on_event(bufferevent* bev, short what, void* arg);
  void moved(bufferevent* from);
  void drained(bufferevent* to);
  void event(bufferevent* bev, short what);
  bufferevent* other(bufferevent* b) const {
    return b == client_.get() ? backend_.get() : client_.get();
  }
  void end(const std::string& why, bool notice = false);

  Worker& worker_;
  core::SocketAddress client_addr_;
  core::SocketAddress local_;
  std::optional<ConnectionLimits::Slot> slot_;
  BufferEventPtr client_;
  BufferEventPtr backend_;
  bool connected_ = false;
  bool draining_ = false;  // one side has closed: deliver what is buffered to the other, then end
  std::string reason_;
};

}  // namespace turnpike::net
