// The port shared with a web server (mux-listening-port, e.g. 443), without nginx's stream
// module: the first bytes of a connection decide where it goes, before anything is answered.
//
//   TLS, ALPN offers stun.turn or stun.nat-discovery (RFC 7443)  -> TURN over TLS, here
//   TLS, any other ALPN (h2, http/1.1, acme-tls/1, ...; RFC 7301) -> the web backend, byte for byte
//   TLS, no ALPN, SNI is one of mux-web-sni                       -> the web backend
//   TLS, no ALPN (a browser's TURN client sends none)             -> TURN over TLS, here
//   not TLS but a STUN message (RFC 8489 §5: magic cookie)        -> TURN over TCP, here
//   anything else                                                 -> closed
#pragma once

#include <cstdint>

#include "core/bytes.h"
#include "core/tls_client_hello.h"
#include "net/stream_settings.h"

namespace turnpike::net {

enum class MuxRoute : uint8_t { Turn, Web };

MuxRoute mux_route(const core::ClientHelloInfo& hello, const MuxOptions& o);

enum class PlainStart : uint8_t { NeedMore, Stun, Other };
// For bytes that are not TLS: does the stream start with a STUN message?
PlainStart classify_plain(core::Bytes first);

}  // namespace turnpike::net
