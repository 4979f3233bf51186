// The messages a running turnpike and the copy taking over from it exchange on their link (a
// unix SOCK_SEQPACKET pair; DESIGN.md "Restart and upgrade without dropping calls"):
//
//   new -> old  Ready     value: the newest hand-over state version it reads; its config parsed
//   old -> new  State     value: how many descriptors follow; the first is a memfd holding the
//                         state (core/handover_state.h), the others the sockets it names
//   old -> new  Fds       (more descriptors, SCM_RIGHTS carries at most 253 per message)
//   new -> old  Accepted  value: its pid; everything restored, it relays from now on
//   old -> new  Go        the old process has let go (its ledger written): the new one records
//   either      Refused   text: why; the old process goes on relaying
//
//   "TPHM" | step u8 | value u32 | text length u16 | text
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/bytes.h"

namespace turnpike::core {

enum class HandoverStep : uint8_t {
  Ready = 1,
  State = 2,
  Fds = 3,
  Accepted = 4,
  Go = 5,
  Refused = 6
};
const char* handover_step_name(HandoverStep s);

struct HandoverMessage {
  HandoverStep step = HandoverStep::Refused;
  uint32_t value = 0;
  std::string text;  // at most kMaxText bytes
  static constexpr size_t kMaxText = 1000;
  static constexpr size_t kMaxSize = 11 + kMaxText;
};

std::vector<uint8_t> encode_handover_message(const HandoverMessage& m);
// Null unless `in` is exactly one well-formed message.
std::optional<HandoverMessage> decode_handover_message(Bytes in);

}  // namespace turnpike::core
