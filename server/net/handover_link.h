// The link between a running turnpike and the copy of itself that takes over (DESIGN.md
// "Restart and upgrade without dropping calls"): a unix SOCK_SEQPACKET pair, one message of
// core/handover_message.h per packet, descriptors passed with SCM_RIGHTS; and the start of that
// copy (fork + execv of the binary, the link's end inherited as --takeover=FD).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/handover_message.h"
#include "core/handover_state.h"
#include "net/unique_fd.h"

namespace turnpike::net {

class HandoverLink {
 public:
  explicit HandoverLink(UniqueFd fd) : fd_(std::move(fd)) {}
  int fd() const { return fd_.get(); }

  // Sends `m` with `fds` (the descriptors stay open here: the kernel dups them).
  bool send(const core::HandoverMessage& m, const std::vector<int>& fds = {});
  // Waits up to `timeout_ms` for one message; its descriptors are appended to `fds` (with
  // close-on-exec). Null on timeout, end of the link or a malformed message; `why` says which.
  std::optional<core::HandoverMessage> receive(int timeout_ms, std::vector<UniqueFd>* fds,
                                               std::string* why);

  // The state and every socket it names: State, then as many Fds messages as needed.
  bool send_state(const core::HandoverState& s, const std::vector<int>& fds, std::string* why);
  // Receives what send_state sent; `fds` gets the sockets, numbered as the state names them.
  std::optional<core::HandoverState> receive_state(int timeout_ms, uint16_t max_version,
                                                   std::vector<UniqueFd>* fds, std::string* why,
                                                   bool* refused_version);

 private:
  UniqueFd fd_;
};

struct Successor {
  pid_t pid = -1;
  HandoverLink link;
};

// Starts `binary` with `args` (argv[1..]) and --takeover=FD appended, FD its end of a new link.
// The child inherits nothing else: every other descriptor here is close-on-exec.
std::optional<Successor> spawn_successor(const std::string& binary,
                                         const std::vector<std::string>& args, std::string* why);

// The binary this process runs, as a path (/proc/self/exe resolved at start: after a package
// upgrade that path names the new binary, while /proc/self/exe itself names the deleted one).
std::string own_binary_path();

}  // namespace turnpike::net
