// The process's descriptor limit (RLIMIT_NOFILE). Every relay socket, client connection and RFC
// 6062 peer connection is a descriptor, and the soft limit a shell or systemd hands over (often
// 1024) is far below what the relay is built for, so the soft limit is raised to the hard one at
// start, before any thread exists. An unprivileged process may raise its soft limit up to the hard
// limit (setrlimit(2)); beyond that needs CAP_SYS_RESOURCE, so the hard limit (the Debian unit's
// LimitNOFILE) is where the raise stops.
#pragma once

#include <cstdint>
#include <string>

namespace turnpike::net {

struct DescriptorLimit {
  uint64_t before = 0;  // the soft limit found
  uint64_t soft = 0;    // the soft limit now
  uint64_t hard = 0;
  std::string error;  // why it could not be read or raised (then soft == before)

  // One line for the start-up log: "descriptor limit 20000 (raised from 1024; hard limit 20000)".
  std::string describe() const;
};

// Raises the soft RLIMIT_NOFILE to the hard limit (RLIM_INFINITY is capped at nr_open, which the
// kernel enforces anyway) and says what it got.
DescriptorLimit raise_descriptor_limit();

// The default cap on stream (TCP, TLS, DTLS) connections in total: half the descriptors. The other
// half is the reserve for what a stream flood must not starve: UDP relay sockets (one per
// allocation, two with an EVEN-PORT reservation), RFC 6062 peer connections and relay listeners,
// the ledger, the log and the listeners themselves.
unsigned default_max_connections(uint64_t soft_limit);

}  // namespace turnpike::net
