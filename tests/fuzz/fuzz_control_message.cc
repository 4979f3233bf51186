// What reaches the control socket: arbitrary bytes decoded as a control message
// (core/control_message.h). Invariants: a refusal always says why; NeedMore asks for more than
// it was given; a decoded message is within the caps, uses only valid names, and encodes back
// to exactly the bytes it was decoded from.
#include <cstdint>
#include <cstring>
#include <string>

#include "core/control_message.h"

using namespace turnpike::core;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ControlMessage m;
  size_t used = 0, need = 0;
  std::string err;
  switch (decode_control(Bytes(data, size), &m, &used, &need, &err)) {
    case ControlDecode::Invalid:
      if (err.empty()) __builtin_trap();
      break;
    case ControlDecode::NeedMore:
      if (need <= size && size >= kControlHeader) __builtin_trap();
      break;
    case ControlDecode::Ok: {
      if (used > size || m.fields.size() > kControlMaxFields) __builtin_trap();
      for (const auto& [n, v] : m.fields) {
        if (!valid_control_name(n)) __builtin_trap();
      }
      auto again = encode_control(m, &err);
      if (!again || again->size() != used || std::memcmp(again->data(), data, used) != 0)
        __builtin_trap();
      break;
    }
  }
  return 0;
}
