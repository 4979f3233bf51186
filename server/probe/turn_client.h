// A small blocking STUN/TURN client (RFC 8489, RFC 8656) on core's codec, for the probe: it does
// what a browser's TURN client does, one step at a time, and reports each answer exactly (error
// code and reason phrase, time, retransmissions). Requests over UDP are retransmitted
// (RFC 8489 §6.2.1) within a bounded budget; over TCP and TLS they are sent once (§6.2.2).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/long_term_key.h"
#include "core/socket_address.h"
#include "core/stun_message.h"
#include "core/stun_writer.h"
#include "probe/stun_transport.h"

namespace turnpike::probe {

struct Credentials {
  std::string username, password;
  // Who minted it just before the probe used it ("the XMPP server"), or "" when it may be old:
  // a fresh TURN REST credential's expiry is the issuer's clock plus its TTL, which tells a
  // wrong clock apart from an old credential.
  std::string fresh_from;
};

// One request's outcome.
struct StunAnswer {
  enum class Kind : uint8_t { Success, Error, Timeout, Failed } kind = Kind::Failed;
  uint16_t code = 0;   // Error: the ERROR-CODE
  std::string reason;  // Error: its reason phrase (as sent, escaped with core::escape_text)
  std::string error;   // Timeout/Failed: what happened
  int64_t us = 0;      // from the first transmission to the answer
  int transmissions = 0;
  std::vector<uint8_t> bytes;  // the response
  std::optional<core::StunMessage> message() const;
  bool ok() const { return kind == Kind::Success; }
  // "401 Unauthorized", "no answer in 3.5 s (3 requests)", ...
  std::string describe() const;
};

class TurnClient {
 public:
  // `timeout`: how long one request may take, retransmissions included.
  TurnClient(std::unique_ptr<StunTransport> t, std::chrono::milliseconds timeout);

  StunTransport& transport() { return *t_; }

  // RFC 8489 §3: the server's view of this client's address (XOR-MAPPED-ADDRESS, or
  // MAPPED-ADDRESS from an RFC 3489 server).
  StunAnswer binding(std::optional<core::SocketAddress>* mapped);

  // RFC 8656 §7.1: an Allocate without credentials, which a server with long-term credentials
  // answers 401 with REALM and NONCE (RFC 8489 §9.2.4); then the same request with USERNAME,
  // REALM, NONCE and MESSAGE-INTEGRITY. A 438 Stale Nonce is retried once with the new nonce.
  struct Allocation {
    StunAnswer challenge;  // the first answer
    StunAnswer answer;     // the authenticated one (kind Failed when never sent)
    std::string realm;
    bool challenge_ok = false;  // 401 with REALM and NONCE
    core::SocketAddress relayed, mapped;
    uint32_t lifetime = 0;
    bool integrity_ok = false;  // the success response's MESSAGE-INTEGRITY matches our key
  };
  Allocation allocate(const Credentials& c);

  // Signed with the allocation's credentials (RFC 8656 §9, §11, §7.2).
  StunAnswer create_permission(const core::IpAddress& peer);
  StunAnswer channel_bind(uint16_t channel, const core::SocketAddress& peer);
  StunAnswer refresh(uint32_t lifetime);

  // ChannelData (RFC 8656 §12.4), padded to four bytes over TCP/TLS (§12.5).
  bool send_channel_data(uint16_t channel, core::Bytes payload, std::string* error);
  // The next ChannelData message by `deadline`; other messages (indications, late responses)
  // are skipped.
  Received receive_channel_data(uint16_t* channel, std::vector<uint8_t>* payload,
                                Clock::time_point deadline, std::string* error);

 private:
  using Attributes = std::function<void(core::StunWriter&)>;
  StunAnswer transact(core::Method m, const Attributes& add, bool sign);
  StunAnswer signed_request(core::Method m, const Attributes& add);

  std::unique_ptr<StunTransport> t_;
  std::chrono::milliseconds timeout_;
  std::string username_, realm_, nonce_;
  std::optional<core::LongTermKey> key_;
};

}  // namespace turnpike::probe
