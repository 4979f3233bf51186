// Arbitrary text as a turnserver.conf: parsing must end in a Config or a ConfigError, never a
// crash.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "config/config_parser.h"

using namespace turnpike::config;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Config cfg;
  std::string text(reinterpret_cast<const char*>(data), size);
  if (!parse_config_text(text, "fuzz.conf", cfg)) (void)validate(cfg);
  return 0;
}
