// XOR-MAPPED-ADDRESS, XOR-PEER-ADDRESS, XOR-RELAYED-ADDRESS (RFC 8489 §14.2, RFC 8656 §18.3,
// §18.5): the port is XORed with the top 16 bits of the magic cookie, an IPv4 address with the
// cookie, an IPv6 address with the cookie followed by the transaction ID.
#pragma once

#include <cstdint>
#include <optional>

#include "core/bytes.h"
#include "core/socket_address.h"

namespace turnpike::core {

// `header` points at the start of the message (the cookie and transaction ID are read from it).
// Writes 8 (IPv4) or 20 (IPv6) bytes to `out`.
void encode_xor_address(const SocketAddress& a, const uint8_t* header, uint8_t* out);

// Rejects an unknown family and a value whose length does not match its family (family 0x01
// with 20 bytes, 0x02 with 8 bytes): those are 400 Bad Request, never a guess.
std::optional<SocketAddress> decode_xor_address(Bytes value, const uint8_t* header);

// MAPPED-ADDRESS (RFC 8489 §14.1), the same layout without the XOR; ALTERNATE-SERVER (§14.15)
// has it too. encode_plain_address writes 8 (IPv4) or 20 (IPv6) bytes to `out`.
std::optional<SocketAddress> decode_plain_address(Bytes value);
void encode_plain_address(const SocketAddress& a, uint8_t* out);

}  // namespace turnpike::core
