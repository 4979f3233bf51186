// The main thread's loop: it waits for signals and turns them into actions.
//   SIGTERM, SIGINT: stop gracefully.   SIGHUP, SIGUSR2 (coturn's): reload.
#pragma once

#include <functional>

namespace turnpike::net {

struct SignalHandlers {
  std::function<void()> reload;
};

// Returns when SIGTERM or SIGINT arrives.
void run_signal_loop(const SignalHandlers& h);

}  // namespace turnpike::net
