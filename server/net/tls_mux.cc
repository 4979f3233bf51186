#include "net/tls_mux.h"

#include <algorithm>
#include <span>
#include <string>
#include <vector>

#include "core/stun_types.h"

namespace turnpike::net {

MuxRoute mux_route(const core::ClientHelloInfo& hello, const MuxOptions& o) {
  // RFC 7443 §3: a TURN client may say so with ALPN "stun.turn" ("stun.nat-discovery" for STUN
  // alone). Any other ALPN offered is a protocol of the web server's (h2, http/1.1, and also
  // acme-tls/1, RFC 8737 §3: a certificate authority's TLS-ALPN-01 challenge must reach the web
  // server, or the certificate for this very port cannot be renewed). A browser's TURN client
  // offers no ALPN at all, so only "no ALPN" is TURN by default.
  if (hello.offers("stun.turn") || hello.offers("stun.nat-discovery")) return MuxRoute::Turn;
  if (!hello.alpn.empty()) return MuxRoute::Web;
  if (!hello.server_name.empty() &&
      std::find(o.web_sni.begin(), o.web_sni.end(), hello.server_name) != o.web_sni.end()) {
    return MuxRoute::Web;
  }
  return MuxRoute::Turn;
}

PlainStart classify_plain(core::Bytes b) {
  // RFC 8489 §5: a STUN message starts with two zero bits and carries the magic cookie at
  // offset 4. (ChannelData cannot come first: there is no channel before an allocation.)
  if (b.empty()) return PlainStart::NeedMore;
  if ((b[0] & 0xC0) != 0) return PlainStart::Other;
  if (b.size() < 8) return PlainStart::NeedMore;
  return core::load_be32(b.data() + 4) == core::kMagicCookie ? PlainStart::Stun : PlainStart::Other;
}

}  // namespace turnpike::net
