// The control socket (README "Session control"): a unix stream socket, no network port, that
// turnpike-admin uses for live state and control. One request and one answer per connection,
// in core/control_message.h's format. It runs in a thread of its own with blocking, time-limited
// reads and writes (an administrator's command, never a worker's relay path); the handler runs
// there too and reaches the workers through their mailboxes.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <thread>

#include "core/control_message.h"
#include "net/unique_fd.h"

namespace turnpike::net {

class ControlServer {
 public:
  using Handler = std::function<core::ControlMessage(const core::ControlMessage&)>;

  explicit ControlServer(Handler h) : handler_(std::move(h)) {}
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Before privileges drop: binds `path` with mode 0660 and group `group` (a group name; "":
  // the process's). Its directory is made (0755) when missing. A socket file left by a process
  // that is gone is replaced; one that a running turnpike answers on is an error. Returns an
  // error naming the path, or "". `replace`: a hand-over's new process takes the path over from
  // the running one (which answers on it until it exits).
  std::string listen(const std::string& path, const std::string& group, bool replace = false);
  void start();
  // Stops serving (a request under way is finished first), joins the thread and removes the
  // socket file, unless another process has bound that path since (a hand-over). Idempotent.
  void stop();
  const std::string& path() const { return path_; }

 private:
  void run();
  void serve(int fd);

  Handler handler_;
  std::string path_;
  dev_t dev_ = 0;  // the socket file this server made
  ino_t ino_ = 0;
  UniqueFd listening_;
  UniqueFd wake_;  // eventfd: stop() wakes the thread's poll()
  std::thread thread_;
};

}  // namespace turnpike::net
