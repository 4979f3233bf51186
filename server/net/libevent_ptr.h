// RAII for libevent objects.
#pragma once

#include <event2/event.h>

#include <memory>

namespace turnpike::net {

struct EventBaseDeleter {
  void operator()(event_base* b) const { event_base_free(b); }
};
struct EventDeleter {
  void operator()(event* e) const { event_free(e); }  // also removes it from its base
};

using EventBasePtr = std::unique_ptr<event_base, EventBaseDeleter>;
using EventPtr = std::unique_ptr<event, EventDeleter>;

}  // namespace turnpike::net
