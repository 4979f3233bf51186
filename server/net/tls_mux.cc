#include "net/tls_mux.h"

#include <algorithm>
#include <span>
#include <string>
#include <vector>

#include "core/stun_types.h"

namespace turnpike::net {

MuxRoute mux_route(const core::ClientHelloInfo& hello, const MuxOptions& o) {
  if (hello.offers("stun.turn") || hello.offers("stun.nat-discovery")) return MuxRoute::Turn;
  for (const auto& p : hello.alpn) {
    if (p == "h2" || p == "http/1.1" || p == "http/1.0" || p == "h3") return MuxRoute::Web;
  }
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
