// Work handed to an event loop from other threads: post() queues a job and wakes the loop
// (an eventfd), which runs everything queued, in order, on its own thread. The lock is held only
// to swap the queue, never while a job runs; nothing on a relay path posts.
#pragma once

#include <event2/event.h>

#include <mutex>
#include <vector>

#include "net/libevent_ptr.h"
#include "net/unique_fd.h"
#include "net/unique_function.h"

namespace turnpike::net {

class Mailbox {
 public:
  // Move-only: a job may carry what it hands over by value (unique_function.h).
  using Job = UniqueFunction<void()>;

  // Jobs run on the thread that runs `base`.
  explicit Mailbox(event_base* base);
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  // Thread-safe.
  void post(Job job);

 private:
  static void on_wake(evutil_socket_t fd, short what, void* arg);

  UniqueFd fd_;
  EventPtr ev_;
  std::mutex mu_;
  std::vector<Job> jobs_;
};

}  // namespace turnpike::net
