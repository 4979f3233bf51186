// The stateless DTLS path: every datagram from an unknown address reaches this parser.
#include <array>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <vector>

#include "core/dtls_cookie.h"
#include "core/dtls_hello.h"

using namespace turnpike::core;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto h = parse_dtls_client_hello(Bytes(data, size));
  if (!h) return 0;
  if (h->cookie.data() < data || h->cookie.data() + h->cookie.size() > data + size) std::abort();
  static const DtlsCookie cookie(std::array<uint8_t, DtlsCookie::kKeySize>{});
  (void)cookie.verify(h->cookie, SocketAddress(IpAddress::v4(0x7f000001), 1), 0);
  uint8_t out[kDtlsHelloVerifyOverhead + DtlsCookie::kSize];
  uint8_t c[DtlsCookie::kSize] = {};
  (void)write_hello_verify_request(*h, Bytes(c, sizeof c), out);
  return 0;
}
