#include "net/stun_probe.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "core/attributes/xor_address.h"
#include "core/random.h"
#include "core/stun_message.h"
#include "core/stun_writer.h"
#include "net/udp.h"

namespace turnpike::net {

std::optional<core::SocketAddress> probe_public_address(const core::IpAddress& from,
                                                        const core::SocketAddress& stun_server,
                                                        int timeout_ms, std::string* error) {
  if (from.family() != stun_server.family()) {
    *error = "the STUN server " + stun_server.to_string() + " is not of the relay address's family";
    return std::nullopt;
  }
  std::string err;
  UniqueFd fd = open_udp(core::SocketAddress(from, 0), false, &err);
  if (!fd) {
    *error = err;
    return std::nullopt;
  }
  uint8_t txid[12];
  core::random_bytes(txid, sizeof txid);
  uint8_t request[64];
  core::StunWriter w(core::MutableBytes(request, sizeof request), core::Method::Binding,
                     core::MessageClass::Request, txid);
  w.add_fingerprint();
  for (int attempt = 0; attempt < 3; ++attempt) {
    send_datagram(fd.get(), stun_server, w.bytes());
    pollfd p{fd.get(), POLLIN, 0};
    const int wait = timeout_ms / 3;
    while (::poll(&p, 1, wait) > 0) {
      uint8_t buf[1500];
      const ssize_t n = ::recv(fd.get(), buf, sizeof buf, MSG_DONTWAIT);
      if (n <= 0) break;
      auto m = core::StunMessage::parse(core::Bytes(buf, size_t(n)));
      if (!m || std::memcmp(m->transaction_id(), txid, 12) != 0) continue;
      if (m->message_class() != core::MessageClass::Success) {
        *error = "the STUN server " + stun_server.to_string() + " answered with an error";
        return std::nullopt;
      }
      if (auto a = m->find(core::attr::XorMappedAddress)) {
        if (auto addr = core::decode_xor_address(m->value(*a), m->bytes().data())) return addr;
      }
      *error = "the STUN server's answer has no XOR-MAPPED-ADDRESS";
      return std::nullopt;
    }
  }
  *error = "no answer from the STUN server " + stun_server.to_string() + " within " +
           std::to_string(timeout_ms) + " ms";
  return std::nullopt;
}

}  // namespace turnpike::net
