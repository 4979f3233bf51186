// Testing one STUN/TURN URL the way a client uses it, every step timed and explained: the host's
// addresses, the connection (and TLS) to each, a Binding, an Allocate (the 401 challenge, then
// the authenticated answer), the relayed address, a second allocation of the probe's own,
// permissions and channels between the two, a relayed round trip of a bounded number of packets,
// Refresh, and deallocation. The probe relays to nothing but its own second allocation.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "probe/probe_report.h"
#include "probe/refusal_lookup.h"
#include "probe/resolver.h"
#include "probe/turn_client.h"
#include "probe/turn_url.h"

namespace turnpike::probe {

struct ProbeOptions {
  std::string ca_file;    // a CA trusted besides the system's trust store
  bool insecure = false;  // go on past an untrusted certificate (reported, never hidden)
  ResolveOverrides overrides;
  std::chrono::milliseconds timeout{3500};  // one request or connection, retransmissions included
  int packets = 50;                          // the relayed round trip
  size_t max_addresses = 4;                  // of one host name
  RefusalLookup refusals;                    // the relay's ledger, when on the relay host
};

class UrlProber {
 public:
  explicit UrlProber(ProbeOptions o) : o_(std::move(o)) {}

  // Why a turn: or turns: URL has no credentials, and what to do about it: the failure of its
  // allocate step.
  struct Missing {
    std::string why, advice;
  };
  UrlReport probe(const TurnUrl& url, const std::optional<Credentials>& credentials,
                  const Missing& missing);

  // A UDP port that serves STUN/TURN on `host` (from the other URLs of the run), where the
  // second allocation of a TCP or TLS URL goes. Without one: the URL's own port for turn: over
  // TCP (one listening-port serves both), else 3478.
  void add_udp_port(const std::string& host, uint16_t port) { udp_ports_[host] = port; }

 private:
  void probe_address(const TurnUrl& url, const core::SocketAddress& server,
                     const std::optional<Credentials>& credentials, const Missing& missing,
                     AddressReport* out);

  ProbeOptions o_;
  // Servers that answered (true) or ignored (false) UDP, so that the second allocation of a
  // TCP/TLS URL does not wait for UDP again where it never came back.
  std::map<core::SocketAddress, bool> udp_answered_;
  std::map<std::string, uint16_t> udp_ports_;
};

}  // namespace turnpike::probe
