// The hand-over state (core/handover_state.h) and the link's messages come from another binary: arbitrary bytes are
// decoded, and whatever decodes must encode back to the very same bytes (one encoding per
// state), name only sockets among those sent, each once, and respect the caps.
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/handover_message.h"
#include "core/handover_state.h"

using namespace turnpike::core;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The same bytes as a message of the link (core/handover_message.h): one encoding each.
  if (const auto m = decode_handover_message(Bytes(data, size))) {
    const std::vector<uint8_t> again = encode_handover_message(*m);
    if (again.size() != size || std::memcmp(again.data(), data, size) != 0) __builtin_trap();
  }
  const HandoverDecoded d = decode_handover(Bytes(data, size));
  if (!d.state) {
    if (d.why.empty()) __builtin_trap();  // a refusal always says why
    return 0;
  }
  const HandoverState& s = *d.state;
  std::vector<bool> used(s.fd_count);
  auto claim = [&](HandoverFd fd) {
    if (fd >= s.fd_count || used[fd]) __builtin_trap();
    used[fd] = true;
  };
  for (const auto& l : s.listeners) claim(l.fd);
  for (const auto& a : s.allocations) {
    if (a.worker >= s.workers.size() || a.relays.empty() || a.relays.size() > 2) __builtin_trap();
    for (const auto& r : a.relays) claim(r.fd);
    for (const auto& c : a.channels) {
      if (c.number < 0x4000 || c.number > 0x7FFF) __builtin_trap();
    }
  }
  const std::vector<uint8_t> again = encode_handover(s);
  if (again.size() != size || std::memcmp(again.data(), data, size) != 0) __builtin_trap();
  return 0;
}
