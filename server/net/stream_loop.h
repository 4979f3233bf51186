// What the streams of one event loop share (net/stream.h): the event_base, and the streams that
// queued output during the current round of the loop.
//
// A stream's writes only queue. The worker calls flush() once at the end of every round (after
// the callbacks of everything epoll_wait found ready, as it sends the round's UDP datagrams), so
// that whatever a stream was given in that round leaves together: one send(), however many
// messages (TLS: records) the round produced. TURN over TLS on 443 is the path of the clients
// behind the strictest firewalls, and a round of peer data for one of them is typically several
// ChannelData messages.
#pragma once

#include <event2/event.h>

#include <vector>

namespace turnpike::net {

class Stream;

class StreamLoop {
 public:
  explicit StreamLoop(event_base* base) : base_(base) {}
  StreamLoop(const StreamLoop&) = delete;
  StreamLoop& operator=(const StreamLoop&) = delete;

  event_base* base() const { return base_; }
  // Sends what every stream queued since the last call (the end of a round).
  void flush();

 private:
  friend class Stream;
  void queue(Stream& s);
  void forget(Stream& s);

  event_base* base_;
  std::vector<Stream*> queued_;  // null where a stream left before the flush
};

}  // namespace turnpike::net
