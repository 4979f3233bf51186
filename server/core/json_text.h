// JSON string literals (RFC 8259 §7): the one escaping of text for every --json output.
#pragma once

#include <string>
#include <string_view>

namespace turnpike::core {

// `s` as a JSON string, quotes included: '"', '\' and control characters escaped; other bytes
// as they are (UTF-8 passes through).
std::string json_string(std::string_view s);

}  // namespace turnpike::core
