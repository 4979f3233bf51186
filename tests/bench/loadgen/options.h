// Command line of turnpike-loadgen.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/socket_address.h"

namespace bench {

enum class Mode { Relay, Alloc, Unauth, Hold };

struct Options {
  Mode mode = Mode::Relay;
  turnpike::core::SocketAddress server;
  std::string secret;  // TURN REST shared secret; empty: no credentials (the floor)
  std::string user = "bench";
  unsigned allocations = 1;  // N sessions (relay), K (alloc, unauth)
  unsigned peers = 1;        // M echo peers
  std::string peer_ip = "127.0.0.1";
  unsigned client_ips = 200;  // client sockets spread over 127.<client_net>.x.y (session.h)
  unsigned client_net = 1;
  uint32_t client_prefix = 0;  // A.B.0.0: client sockets on A.B.x.y instead (x = j/250, y = 2 + j%250)
  std::string client_netns, peer_netns;  // open client / echo peer sockets in these namespaces
  std::vector<std::string> account;      // --account LABEL=PID,...: machine-wide CPU accounting
  unsigned size = 160;    // ChannelData payload bytes
  double rate = 0;        // packets/s per allocation; 0: as fast as the window allows
  unsigned window = 128;  // packets in flight per allocation when rate == 0
  uint64_t packets = 0;   // stop after this many per allocation (0: run for the duration)
  double warmup_s = 1;
  double duration_s = 3;
  double hold_s = 1;          // alloc/unauth: wait before reading the server's memory; hold: hold time
  double refresh_s = 60;      // hold: each allocation sends Refresh this often
  unsigned threads = 1;       // client shards
  unsigned concurrency = 64;  // allocation set-ups in flight
  unsigned tick_us = 200;     // paced sending wakes at most this often
  unsigned loss_timeout_ms = 50;
  pid_t server_pid = 0;  // read CPU/memory/drops of this process
  double max_loss = -1;  // exit 1 if the loss is larger (fraction); < 0: never
  bool gso = true;       // the generator's own sends use UDP GSO where they can
  bool json_only = false;
};

// Parses argv; on error prints usage to stderr and returns std::nullopt.
std::optional<Options> parse_options(int argc, char** argv);

}  // namespace bench
