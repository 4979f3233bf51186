// Text that a server sent, made safe for a terminal and a log: printable ASCII stays, every
// other byte becomes \xNN. (To be folded into core's escaping function once it lands.)
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace turnpike::probe {

inline std::string printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7F) {
      out += char(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

}  // namespace turnpike::probe
