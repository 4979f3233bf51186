// Restart and upgrade without dropping calls (DESIGN.md): the two halves of the hand-over.
//
// The running process (hand_over): starts the binary with --takeover=FD, waits for it to parse
// its configuration (Ready), stops its workers at the top of their loops, sends the state and
// the sockets, and waits for Accepted. Only then does it let go: the allocations taken over are
// forgotten without an end, the other sessions end, its ledger is written, and it tells the new
// process to Go and exits. Any refusal, crash or silence of the new process before Accepted
// leaves it relaying as before, with the reason logged.
//
// The new process (Takeover): the other side of the same exchange, driven by cmd.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "core/handover_state.h"
#include "ledger/ledger_writer.h"
#include "net/handover_link.h"
#include "net/relay_service.h"

namespace turnpike::net {

struct HandoverOptions {
  std::string binary;              // the program to start (own_binary_path() at start)
  std::vector<std::string> args;   // its arguments (this process's, less --takeover)
  int ready_timeout_ms = 30'000;   // for the new program to start and parse its configuration
  int accept_timeout_ms = 10'000;  // for it to take the state over (the workers wait meanwhile)
  // The check page's listening sockets (HttpServer::listening_fd), passed on too.
  std::vector<std::pair<core::SocketAddress, int>> http_listeners;
};

// Returns the new process's pid once it has taken over (the workers are stopped and the ledger
// written: main() only exits), or -1 when it has not (everything runs on; logged).
pid_t hand_over(RelayService& service, ledger::LedgerWriter* ledger, const HandoverOptions& o);

class Takeover {
 public:
  explicit Takeover(int fd) : link_(UniqueFd(fd)) {}
  // Tells the old process why not; it goes on relaying.
  void refuse(const std::string& why);
  // The configuration parsed: asks for the state.
  bool ready();
  // The state and its sockets. The newest version it reads can be lowered with the environment
  // variable TURNPIKE_TAKEOVER_MAX_VERSION, so that a test makes this binary meet a state it
  // does not understand, as an older binary would.
  std::optional<core::HandoverState> receive(std::vector<UniqueFd>* fds, std::string* why);
  // Everything is restored and the workers may start: the old process lets go.
  bool accept();
  // Waits until the old process has let go (its ledger is written), or the link ends.
  void wait_go();

 private:
  HandoverLink link_;
};

// `--takeover=FD` among the arguments: removes it and returns FD (-1 if absent).
int take_takeover_argument(std::vector<std::string>& args);

}  // namespace turnpike::net
