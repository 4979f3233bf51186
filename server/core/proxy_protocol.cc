#include "core/proxy_protocol.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

namespace turnpike::core {
namespace {

// PROXY protocol §2.2: the 12-byte signature of version 2.
constexpr uint8_t kV2Signature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                      0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr std::string_view kV1Prefix = "PROXY ";
constexpr size_t kV1MaxLength = 107;  // §2.1, CRLF included

bool is_prefix_of(Bytes data, const uint8_t* sig, size_t sig_len) {
  const size_t n = std::min(data.size(), sig_len);
  return std::memcmp(data.data(), sig, n) == 0;
}

std::optional<uint16_t> parse_port(std::string_view s) {
  // §2.1: decimal, 0-65535, no leading zero (except "0" itself).
  if (s.empty() || s.size() > 5 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  unsigned v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v > 65535) return std::nullopt;
  return uint16_t(v);
}

ProxyStatus parse_v1(Bytes data, ProxyHeader* out) {
  const std::string_view text(reinterpret_cast<const char*>(data.data()),
                              std::min(data.size(), kV1MaxLength));
  const size_t crlf = text.find("\r\n");
  if (crlf == std::string_view::npos) {
    return data.size() >= kV1MaxLength ? ProxyStatus::Invalid : ProxyStatus::NeedMore;
  }
  std::string_view line = text.substr(kV1Prefix.size(), crlf - kV1Prefix.size());
  out->size = crlf + 2;
  // §2.1: "UNKNOWN": the rest of the line is ignored and the connection's addresses are used.
  if (line.substr(0, 7) == "UNKNOWN") return ProxyStatus::Ok;
  std::string_view fields[5];
  for (int i = 0; i < 5; ++i) {
    const size_t sp = line.find(' ');
    fields[i] = line.substr(0, sp);
    if (fields[i].empty()) return ProxyStatus::Invalid;
    line = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
    if (i < 4 && sp == std::string_view::npos) return ProxyStatus::Invalid;
  }
  if (!line.empty()) return ProxyStatus::Invalid;
  const bool v4 = fields[0] == "TCP4";
  if (!v4 && fields[0] != "TCP6") return ProxyStatus::Invalid;
  auto src = IpAddress::parse(fields[1]);
  auto dst = IpAddress::parse(fields[2]);
  auto sport = parse_port(fields[3]);
  auto dport = parse_port(fields[4]);
  if (!src || !dst || !sport || !dport) return ProxyStatus::Invalid;
  if (src->is_v4() != v4 || dst->is_v4() != v4) return ProxyStatus::Invalid;
  out->source = SocketAddress(*src, *sport);
  out->destination = SocketAddress(*dst, *dport);
  return ProxyStatus::Ok;
}

ProxyStatus parse_v2(Bytes data, ProxyHeader* out) {
  if (data.size() < 16) return ProxyStatus::NeedMore;
  const uint8_t ver_cmd = data[12];
  const uint8_t fam = data[13];
  const size_t len = load_be16(data.data() + 14);
  // §2.2: version 2 in the high nibble; command LOCAL (0) or PROXY (1).
  if ((ver_cmd >> 4) != 2 || (ver_cmd & 0x0F) > 1) return ProxyStatus::Invalid;
  if (16 + len > kMaxProxyHeader) return ProxyStatus::Invalid;
  if (data.size() < 16 + len) return ProxyStatus::NeedMore;
  out->size = 16 + len;
  const bool local = (ver_cmd & 0x0F) == 0;
  const uint8_t* a = data.data() + 16;
  // TCP over IPv4 (0x11) or IPv6 (0x21); for every other family the addresses are ignored and
  // the connection's own are used (§2.2: "the receiver ... must ignore the address information").
  if (fam == 0x11) {
    if (len < 12) return ProxyStatus::Invalid;
    if (!local) {
      out->source = SocketAddress(IpAddress::v4(a), load_be16(a + 8));
      out->destination = SocketAddress(IpAddress::v4(a + 4), load_be16(a + 10));
    }
  } else if (fam == 0x21) {
    if (len < 36) return ProxyStatus::Invalid;
    if (!local) {
      out->source = SocketAddress(IpAddress::v6(a), load_be16(a + 32));
      out->destination = SocketAddress(IpAddress::v6(a + 16), load_be16(a + 34));
    }
  }
  return ProxyStatus::Ok;
}

}  // namespace

ProxyStatus parse_proxy_header(Bytes data, ProxyHeader* out) {
  *out = ProxyHeader{};
  if (data.empty()) return ProxyStatus::NeedMore;
  if (data[0] == kV2Signature[0]) {
    if (!is_prefix_of(data, kV2Signature, sizeof kV2Signature)) return ProxyStatus::Invalid;
    return parse_v2(data, out);
  }
  if (!is_prefix_of(data, reinterpret_cast<const uint8_t*>(kV1Prefix.data()), kV1Prefix.size())) {
    return ProxyStatus::Invalid;
  }
  if (data.size() < kV1Prefix.size()) return ProxyStatus::NeedMore;
  return parse_v1(data, out);
}

size_t write_proxy_v2(const SocketAddress& source, const SocketAddress& destination, uint8_t* out) {
  std::memcpy(out, kV2Signature, sizeof kV2Signature);
  out[12] = 0x21;  // version 2, command PROXY
  const bool v4 = source.ip().is_v4();
  out[13] = v4 ? 0x11 : 0x21;  // TCP over IPv4 / IPv6
  const size_t addr = v4 ? 4 : 16;
  store_be16(out + 14, uint16_t(2 * addr + 4));
  uint8_t* p = out + 16;
  std::memcpy(p, source.ip().data(), addr);
  std::memcpy(p + addr, destination.ip().data(), addr);
  store_be16(p + 2 * addr, source.port());
  store_be16(p + 2 * addr + 2, destination.port());
  return 16 + 2 * addr + 4;
}

}  // namespace turnpike::core
