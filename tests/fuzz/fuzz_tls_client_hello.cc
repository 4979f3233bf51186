// The ClientHello peeker of the port-443 multiplexer reads bytes from anyone on the Internet.
#include <cstddef>
#include <cstdint>

#include "core/tls_client_hello.h"

using namespace turnpike::core;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ClientHelloInfo info;
  (void)parse_client_hello(Bytes(data, size), &info);
  return 0;
}
