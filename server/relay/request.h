// One STUN request being answered: what it is, on which allocation, and how to sign the answer.
// Private to the relay's handler files.
#pragma once

#include <cstdint>
#include <string>

#include "core/long_term_key.h"
#include "core/stun_message.h"
#include "relay/server.h"

namespace turnpike::relay {

struct Server::Request {
  Request(const ClientRef& c, const FiveTuple& t, const core::StunMessage& m, const Now& n)
      : client(c), tuple(t), msg(m), now(n) {}

  const ClientRef& client;
  const FiveTuple& tuple;
  const core::StunMessage& msg;
  const Now& now;
  Allocation* alloc = nullptr;  // the allocation of this 5-tuple, if any
  bool is_signed = false;       // authenticated: responses carry MESSAGE-INTEGRITY
  core::LongTermKey key;
  bool sha256 = false;
  bool fingerprint = false;
  std::string username;
  int64_t expired_s = -1;  // AuthResult::expired_s
};

}  // namespace turnpike::relay
