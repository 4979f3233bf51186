// The two DTLS handshake messages a server handles before it keeps any state for a client
// (RFC 6347 §4.2.1): reading the cookie of a ClientHello, and writing a HelloVerifyRequest.
// Pure wire format; no I/O and no OpenSSL.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "core/bytes.h"

namespace turnpike::core {

struct DtlsClientHello {
  uint8_t record_sequence[6] = {};  // echoed in the HelloVerifyRequest (RFC 6347 §4.2.1)
  uint16_t message_seq = 0;
  Bytes cookie;  // empty in a first ClientHello
};

// True when `datagram` starts with an epoch-0 DTLS handshake record (cheap pre-check).
bool looks_like_dtls_handshake(Bytes datagram);

// Parses the first record of `datagram` as an unfragmented DTLS ClientHello, far enough to
// read its cookie. std::nullopt for anything else.
std::optional<DtlsClientHello> parse_dtls_client_hello(Bytes datagram);

// A HelloVerifyRequest for `hello` carrying `cookie` (at most 255 bytes). `out` must have
// kDtlsHelloVerifyOverhead + cookie.size() bytes; returns the size written.
constexpr size_t kDtlsHelloVerifyOverhead = 13 + 12 + 3;
size_t write_hello_verify_request(const DtlsClientHello& hello, Bytes cookie, uint8_t* out);

}  // namespace turnpike::core
