// The PROXY protocol (HAProxy's "PROXY protocol" specification, versions 1 and 2): a header a
// TCP proxy writes before the client's bytes, carrying the client's real address. turnpike
// reads it on listeners that sit behind such a proxy, and writes version 2 to the web backend
// behind its own port-443 multiplexer. Pure wire format; no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "core/bytes.h"
#include "core/socket_address.h"

namespace turnpike::core {

// Version 1 headers are at most 107 bytes; version 2 headers are 16 bytes plus their length,
// which a proxy fills with addresses and TLVs. Longer version 2 headers are refused.
constexpr size_t kMaxProxyHeader = 1024;
// A version 2 header with IPv6 addresses and no TLVs.
constexpr size_t kProxyV2MaxWritten = 16 + 36;

struct ProxyHeader {
  size_t size = 0;  // bytes the header occupies; the client's data starts after them
  // The addresses the proxy reports. Empty for LOCAL (v2), UNKNOWN (v1) and address families
  // other than TCP over IPv4/IPv6: the receiver then uses the connection's own addresses.
  std::optional<SocketAddress> source;
  std::optional<SocketAddress> destination;
};

enum class ProxyStatus : uint8_t { NeedMore, Invalid, Ok };

// Parses a version 1 or version 2 header at the start of `data`.
ProxyStatus parse_proxy_header(Bytes data, ProxyHeader* out);

// Writes a version 2 PROXY header (command PROXY, TCP over the family of `source`) and returns
// its size. `out` must have kProxyV2MaxWritten bytes. `source` and `destination` must be of the
// same family.
size_t write_proxy_v2(const SocketAddress& source, const SocketAddress& destination, uint8_t* out);

}  // namespace turnpike::core
