// PROXY protocol v1/v2 headers, read on listeners behind a proxy; and the v2 writer round trip.
#include <cstdint>
#include <cstdlib>
#include <optional>

#include "core/proxy_protocol.h"

using namespace turnpike::core;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ProxyHeader h;
  if (parse_proxy_header(Bytes(data, size), &h) == ProxyStatus::Ok) {
    if (h.size > size) std::abort();
    if (h.source && h.destination && h.source->family() == h.destination->family()) {
      uint8_t out[kProxyV2MaxWritten];
      const size_t n = write_proxy_v2(*h.source, *h.destination, out);
      ProxyHeader again;
      if (parse_proxy_header(Bytes(out, n), &again) != ProxyStatus::Ok ||
          again.source != h.source) {
        std::abort();
      }
    }
  }
  return 0;
}
