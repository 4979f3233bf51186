// A worker's TCP/TLS connections, web-proxy connections and DTLS sessions: who owns them, the
// once-a-second tick (timeouts), and closing them safely. A connection is never destroyed in
// the middle of an I/O callback (the relay may be using its allocation up the stack): close()
// only marks it, and a deferred event finishes and destroys it from the top of the event loop.
#pragma once

#include <cstddef>
#include <iterator>
#include <list>
#include <memory>
#include <vector>

#include "net/libevent_ptr.h"
#include "relay/types.h"

namespace turnpike::net {

class ConnectionSet;

class Connection {
 public:
  virtual ~Connection() = default;
  // About once a second.
  virtual void tick(const relay::Now&) {}
  // After close(), outside any I/O callback, just before destruction (not called when the
  // worker itself is being destroyed).
  virtual void finish(const relay::Now&) {}
  bool closing() const { return closing_; }

 private:
  friend class ConnectionSet;
  bool closing_ = false;
  std::list<std::unique_ptr<Connection>>::iterator self_;
};

class ConnectionSet {
 public:
  explicit ConnectionSet(event_base* base);
  ~ConnectionSet();
  ConnectionSet(const ConnectionSet&) = delete;
  ConnectionSet& operator=(const ConnectionSet&) = delete;

  template <typename T>
  T& add(std::unique_ptr<T> c) {
    T& ref = *c;
    live_.push_back(std::move(c));
    ref.self_ = std::prev(live_.end());
    return ref;
  }
  // Marks `c` closed; it is finished and destroyed soon, from the event loop. Idempotent.
  void close(Connection& c);
  void tick(const relay::Now& now);
  size_t size() const { return live_.size(); }
  // Destroys everything now, without finish() (worker shutdown).
  void clear();

 private:
  static void on_reap(evutil_socket_t, short, void* arg);
  void reap();
  std::list<std::unique_ptr<Connection>> live_;
  std::vector<Connection*> doomed_;
  EventPtr reaper_;
};

}  // namespace turnpike::net
