#include "probe/address_scope.h"

#include <cstdint>

namespace turnpike::probe {

namespace {

Scope scope_v4(uint32_t v) {
  const auto in = [v](uint32_t base, unsigned bits) { return (v >> (32 - bits)) == (base >> (32 - bits)); };
  if (v == 0) return Scope::Unspecified;
  if (in(0x7F000000, 8)) return Scope::Loopback;      // 127.0.0.0/8
  if (in(0xA9FE0000, 16)) return Scope::LinkLocal;    // 169.254.0.0/16 (RFC 3927)
  if (in(0x0A000000, 8) || in(0xAC100000, 12) || in(0xC0A80000, 16)) {
    return Scope::Private;                            // RFC 1918
  }
  if (in(0x64400000, 10)) return Scope::SharedNat;    // 100.64.0.0/10 (RFC 6598)
  return Scope::Global;
}

}  // namespace

Scope scope_of(const core::IpAddress& a) {
  if (a.is_v4()) return scope_v4(a.v4_value());
  const uint8_t* b = a.data();
  bool zero10 = true;
  for (int i = 0; i < 10; ++i) zero10 = zero10 && b[i] == 0;
  if (zero10 && b[10] == 0xFF && b[11] == 0xFF) {  // ::ffff:a.b.c.d (RFC 4291 §2.5.5.2)
    return scope_v4((uint32_t(b[12]) << 24) | (uint32_t(b[13]) << 16) | (uint32_t(b[14]) << 8) |
                    b[15]);
  }
  if (a.is_unspecified()) return Scope::Unspecified;
  if (zero10 && b[10] == 0 && b[11] == 0 && b[12] == 0 && b[13] == 0 && b[14] == 0 && b[15] == 1) {
    return Scope::Loopback;
  }
  if (b[0] == 0xFE && (b[1] & 0xC0) == 0x80) return Scope::LinkLocal;  // fe80::/10
  if ((b[0] & 0xFE) == 0xFC) return Scope::Private;                    // fc00::/7 (RFC 4193)
  return Scope::Global;
}

const char* scope_name(Scope s) {
  switch (s) {
    case Scope::Loopback:
      return "loopback";
    case Scope::LinkLocal:
      return "link-local";
    case Scope::Private:
      return "private";
    case Scope::SharedNat:
      return "carrier-grade NAT";
    case Scope::Unspecified:
      return "unspecified";
    case Scope::Global:
      return "public";
  }
  return "?";
}

}  // namespace turnpike::probe
