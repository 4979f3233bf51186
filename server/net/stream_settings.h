// What the TCP/TLS/DTLS side of every worker shares, read-only after start.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/ip_range.h"
#include "core/socket_address.h"

namespace turnpike::net {

// The TLS port shared with a web server (mux-listening-port).
struct MuxOptions {
  core::SocketAddress web_backend;   // mux-web-backend
  std::vector<std::string> web_sni;  // mux-web-sni, lower case
  bool proxy_protocol = false;       // mux-proxy-protocol: PROXY v2 header to the backend
  // mux-web-drain-timeout: a web connection that leaves bytes waiting for a side that takes none
  // of them, or that is half-closed with nothing moving, for this long is closed.
  uint32_t drain_timeout_s = 60;
};

struct StreamSettings {
  // max-allocate-timeout: a TCP/TLS/DTLS client without an allocation for this long is closed
  // (coturn's 60 s; attack list item 28).
  uint32_t idle_timeout_s = 60;
  MuxOptions mux;
  // Who may connect to a listener that expects a PROXY header (proxy-trusted-ip): anyone else
  // could claim any client address.
  std::vector<core::IpRange> proxy_trusted;
};

}  // namespace turnpike::net
