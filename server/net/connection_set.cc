#include "net/connection_set.h"

#include "net/clock.h"

namespace turnpike::net {

ConnectionSet::ConnectionSet(event_base* base)
    : reaper_(event_new(base, -1, 0, &ConnectionSet::on_reap, this)) {}

ConnectionSet::~ConnectionSet() {
  clear();
}

void ConnectionSet::close(Connection& c) {
  if (c.closing_) return;
  c.closing_ = true;
  doomed_.push_back(&c);
  event_active(reaper_.get(), EV_TIMEOUT, 0);
}

void ConnectionSet::tick(const relay::Now& now) {
  for (auto& c : live_) {
    if (!c->closing_) c->tick(now);
  }
}

void ConnectionSet::on_reap(evutil_socket_t, short, void* arg) {
  static_cast<ConnectionSet*>(arg)->reap();
}

void ConnectionSet::reap() {
  const relay::Now t = now();
  // finish() may close further connections (never itself again); take them in the next round.
  while (!doomed_.empty()) {
    std::vector<Connection*> batch;
    batch.swap(doomed_);
    for (Connection* c : batch) {
      c->finish(t);
      live_.erase(c->self_);
    }
  }
}

void ConnectionSet::clear() {
  doomed_.clear();
  live_.clear();
}

}  // namespace turnpike::net
