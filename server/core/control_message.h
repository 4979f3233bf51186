// The control socket's wire format (DESIGN.md "Operating it"): turnpike-admin sends one request
// on a unix stream socket and the daemon sends one answer back. Both are the same thing: an
// ordered list of text fields (name, value), encoded and decoded here without I/O:
//
//   "TPCM" | version u16 | field count u16 | body length u32 | body
//   body: per field: name length u8 | name | value length u32 | value
//
// Integers are big-endian. A request's first field is `command` (status, disconnect, drain, ...);
// an answer's first field is `ok` ("1") or `error` (one line saying why). Names are lower-case
// ASCII letters, digits, '.', '_' and '-'; values are any bytes (the reader decides what they
// mean). A reader refuses another version (the daemon and turnpike-admin come from one package,
// so a mismatch is a half-done upgrade, said as such), and anything truncated, over the caps or
// left over after the body: whoever can reach the socket is checked like a stranger.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/bytes.h"

namespace turnpike::core {

inline constexpr uint16_t kControlVersion = 1;
inline constexpr size_t kControlHeader = 12;
inline constexpr size_t kControlMaxBody = 4u << 20;
inline constexpr size_t kControlMaxFields = 65535;
inline constexpr size_t kControlMaxName = 64;

struct ControlMessage {
  std::vector<std::pair<std::string, std::string>> fields;

  // Appends a field (names are not checked here; encode_control refuses bad ones).
  ControlMessage& add(std::string name, std::string value) {
    fields.emplace_back(std::move(name), std::move(value));
    return *this;
  }
  ControlMessage& add(std::string name, uint64_t value) {
    return add(std::move(name), std::to_string(value));
  }
  // The first field with this name, or nullptr.
  const std::string* get(std::string_view name) const;
  // Every value of fields with this name, in order (a repeated option).
  std::vector<std::string> all(std::string_view name) const;

  static ControlMessage ok() { return ControlMessage().add("ok", "1"); }
  static ControlMessage failure(std::string why) {
    return ControlMessage().add("error", std::move(why));
  }
  bool is_ok() const { return !fields.empty() && fields[0].first == "ok"; }

  friend bool operator==(const ControlMessage&, const ControlMessage&) = default;
};

// Whether `name` may be a field name.
bool valid_control_name(std::string_view name);

// The encoded message; std::nullopt (with `error`) when a name is invalid or a cap is exceeded.
std::optional<std::vector<uint8_t>> encode_control(const ControlMessage& m, std::string* error);

enum class ControlDecode { Ok, NeedMore, Invalid };
// Decodes one message from the start of `in`. NeedMore: `in` is a prefix of a valid message so
// far (read more; `*need` says how many bytes in all, once the header is complete). Invalid:
// `error` says why. Ok: `*out` is the message and `*consumed` its size.
ControlDecode decode_control(Bytes in, ControlMessage* out, size_t* consumed, size_t* need,
                             std::string* error);

}  // namespace turnpike::core
