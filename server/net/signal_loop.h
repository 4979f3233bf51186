// The main thread's loop: it waits for signals and turns them into actions.
//   SIGTERM, SIGINT: stop gracefully.   SIGHUP, SIGUSR2 (coturn's): reload.
//   SIGURG: hand over to a new copy of the binary (DESIGN.md "Restart and upgrade").
//   SIGUSR1 (coturn's too): drain.
#pragma once

#include <functional>

namespace turnpike::net {

struct SignalHandlers {
  std::function<void()> reload;
  // Returns true when another process took over: the loop then ends.
  std::function<bool()> hand_over;
  std::function<void()> drain;  // SIGUSR1
  // Once a second on the main thread; returning true stops the loop as SIGTERM does.
  std::function<bool()> every_second;
  // Called every tick_seconds on the main thread while the loop runs (0: never); for work that
  // must stay off the workers, such as the service manager's STATUS= line.
  std::function<void()> tick;
  unsigned tick_seconds = 0;
};

// First thing in main(), before any thread exists: SIGPIPE is ignored (a peer that closed never
// kills the process), and every signal is blocked, so that each thread started later (workers,
// the ledger writer, the logger, the HTTP server) inherits the block and only the main thread's
// loop handles signals. A signal that arrives before the loop runs waits, pending, and is handled
// then: a SIGTERM during start-up still stops the server gracefully.
void prepare_signals();

// Returns when SIGTERM or SIGINT arrives (or every_second says so). Unblocks signals in the calling (main) thread.
void run_signal_loop(const SignalHandlers& h);

}  // namespace turnpike::net
