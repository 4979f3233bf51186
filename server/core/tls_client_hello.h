// Reading a TLS ClientHello without terminating TLS: the server name (SNI, RFC 6066 §3) and the
// ALPN protocols (RFC 7301 §3.1) a client offers, so that a listener shared with a web server
// can decide where a connection goes before any byte is answered. Pure parsing of bytes already
// received; nothing is consumed and nothing is written.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"

namespace turnpike::core {

// Hellos larger than this (several records of handshake data) are not waited for: real
// ClientHellos, even with post-quantum key shares, are 2-3 KB.
constexpr size_t kMaxClientHello = 16384;

struct ClientHelloInfo {
  std::string server_name;        // empty when the client sent no SNI host_name
  std::vector<std::string> alpn;  // in the client's order; empty without ALPN
  bool offers(std::string_view protocol) const;
};

enum class HelloStatus : uint8_t {
  NeedMore,  // a prefix of a plausible ClientHello: wait for more bytes
  NotTls,    // the first record is not a TLS handshake record
  Invalid,   // TLS, but not a well-formed ClientHello (or larger than kMaxClientHello)
  Ok,
};

// Parses the ClientHello at the start of `data`, which may span several TLS records
// (RFC 8446 §5.1: handshake messages may be fragmented across records).
HelloStatus parse_client_hello(Bytes data, ClientHelloInfo* out);

}  // namespace turnpike::core
