// Moving whole STUN and ChannelData messages between the probe and a server, with deadlines:
// datagrams over UDP (one message each, RFC 8489 §6.2.1), or a TCP or TLS byte stream cut into
// messages by their own lengths (RFC 8489 §6.2.2, RFC 8656 §12.5). Blocking in the caller's
// sense (each call waits up to its deadline), non-blocking underneath (poll).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/socket_address.h"
#include "net/openssl_ptr.h"
#include "net/unique_fd.h"
#include "probe/tls_report.h"
#include "probe/turn_url.h"

namespace turnpike::probe {

using Clock = std::chrono::steady_clock;

enum class Received : uint8_t {
  Message,  // one whole message in *out
  Timeout,  // nothing by the deadline
  Closed,   // the server closed the stream
  Refused,  // UDP: ICMP port unreachable (nothing listens there)
  Failed,   // anything else; `error` says what
};

class StunTransport {
 public:
  virtual ~StunTransport() = default;
  virtual Transport kind() const = 0;
  virtual bool send(core::Bytes message, Clock::time_point deadline, std::string* error) = 0;
  virtual Received receive(std::vector<uint8_t>* out, Clock::time_point deadline,
                           std::string* error) = 0;

  const core::SocketAddress& local() const { return local_; }
  const core::SocketAddress& server() const { return server_; }

 protected:
  core::SocketAddress local_, server_;
};

// A connected UDP socket (so ICMP errors are reported to it).
std::unique_ptr<StunTransport> open_udp(const core::SocketAddress& server, std::string* error);

// A TCP connection, established by `deadline`; `error` says "refused", "timed out", ...
std::unique_ptr<StunTransport> open_tcp(const core::SocketAddress& server, Clock::time_point deadline,
                                        std::string* error);

struct TlsOptions {
  std::string host;     // the URL's host: SNI (for a name) and the name the certificate must match
  std::string ca_file;  // trusted besides the system's trust store ("": only the system's)
  std::vector<std::string> alpn;  // offered protocols; empty: none, as browsers do for TURN
};

// TCP, then a TLS handshake by `deadline`. The report is filled either way; a transport is
// returned whenever the handshake completed, also when the certificate is not trusted: the
// caller decides (it must send nothing over it unless told to be --insecure).
std::unique_ptr<StunTransport> open_tls(const core::SocketAddress& server, const TlsOptions& o,
                                        Clock::time_point deadline, TlsReport* report,
                                        std::string* error);

}  // namespace turnpike::probe
