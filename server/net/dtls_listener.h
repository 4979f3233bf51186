// A worker's DTLS socket (dtls: udp on tls-listening-port, SO_REUSEPORT like the UDP
// listener, so one client's datagrams always reach the same worker).
//
// Before a client returns a valid cookie the server keeps nothing for it (RFC 6347 §4.2.1;
// attack list item 30; coturn GHSA-5x2p-4vqj-f6m4): a ClientHello without one is answered
// with a HelloVerifyRequest built from the datagram alone, never larger than the ClientHello,
// and no OpenSSL object, socket or table entry is created. Only a ClientHello that carries
// the cookie for its source address (made within the last two minutes) creates a DtlsSession.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <unordered_map>

#include "core/bytes.h"
#include "core/socket_address.h"
#include "net/libevent_ptr.h"
#include "net/unique_fd.h"
#include "relay/types.h"

namespace turnpike::core {
class DtlsCookie;
}

namespace turnpike::net {

class Worker;
class DtlsSession;

struct DtlsStats {
  uint64_t hello_verify_requests = 0;  // answered statelessly
  uint64_t sessions = 0;               // created (valid cookie)
  uint64_t ignored = 0;                // neither a ClientHello nor for a session
  uint64_t refused = 0;                // max-connections-per-ip or no certificate
};

class DtlsListener {
 public:
  static constexpr size_t kPlaintextSize = 16384 + 256;

  DtlsListener(Worker& w, UniqueFd fd, const core::SocketAddress& local);
  ~DtlsListener();

  Worker& worker() { return worker_; }
  int fd() const { return fd_.get(); }
  const core::SocketAddress& local() const { return local_; }
  const core::DtlsCookie& cookie() const;
  uint8_t* plaintext() { return plaintext_.get(); }
  const DtlsStats& stats() const { return stats_; }
  size_t session_count() const { return sessions_.size(); }
  // A session going away (from its finish()).
  void forget(DtlsSession* s);

 private:
  static void on_readable(evutil_socket_t fd, short what, void* arg);
  void drain();
  void datagram(core::Bytes d, const core::SocketAddress& src, const relay::Now& now);
  void stateless(core::Bytes d, const core::SocketAddress& src, const relay::Now& now);

  Worker& worker_;
  UniqueFd fd_;
  core::SocketAddress local_;
  EventPtr ev_;
  std::unordered_map<core::SocketAddress, DtlsSession*, core::SocketAddressHash> sessions_;
  std::unique_ptr<uint8_t[]> plaintext_;
  DtlsStats stats_;
};

}  // namespace turnpike::net
