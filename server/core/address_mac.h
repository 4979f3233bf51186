// The MAC behind turnpike's stateless tokens (the NONCE, RFC 8489 §9.2; the DTLS cookie,
// RFC 6347 §4.2.1): HMAC-SHA256 over a time stamp and the client's transport address, so that
// a token proves "issued to this address at that time" and nothing is stored per client.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/bytes.h"
#include "core/socket_address.h"

namespace turnpike::core {

// The first `n` (at most 32) bytes of HMAC-SHA256(key, stamp || family || IP (16 bytes,
// zero-padded) || port || context). `context` is what else the token vouches for (the NONCE's
// security feature bits); empty for the DTLS cookie.
void address_mac(Bytes key, uint32_t stamp, const SocketAddress& client, uint8_t* out, size_t n,
                 Bytes context = {});

}  // namespace turnpike::core
