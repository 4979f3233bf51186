#include "core/handover_message.h"

#include <algorithm>
#include <cstring>

namespace turnpike::core {

const char* handover_step_name(HandoverStep s) {
  switch (s) {
    case HandoverStep::Ready:
      return "ready";
    case HandoverStep::State:
      return "state";
    case HandoverStep::Fds:
      return "fds";
    case HandoverStep::Accepted:
      return "accepted";
    case HandoverStep::Go:
      return "go";
    case HandoverStep::Refused:
      return "refused";
  }
  return "unknown";
}

std::vector<uint8_t> encode_handover_message(const HandoverMessage& m) {
  const size_t n = std::min(m.text.size(), HandoverMessage::kMaxText);
  std::vector<uint8_t> out(11 + n);
  std::memcpy(out.data(), "TPHM", 4);
  out[4] = uint8_t(m.step);
  store_be32(out.data() + 5, m.value);
  store_be16(out.data() + 9, uint16_t(n));
  std::memcpy(out.data() + 11, m.text.data(), n);
  return out;
}

std::optional<HandoverMessage> decode_handover_message(Bytes in) {
  if (in.size() < 11 || std::memcmp(in.data(), "TPHM", 4) != 0) return std::nullopt;
  const uint8_t step = in[4];
  if (step < uint8_t(HandoverStep::Ready) || step > uint8_t(HandoverStep::Refused))
    return std::nullopt;
  const uint16_t n = load_be16(in.data() + 9);
  if (n > HandoverMessage::kMaxText || in.size() != 11u + n) return std::nullopt;
  HandoverMessage m;
  m.step = HandoverStep(step);
  m.value = load_be32(in.data() + 5);
  m.text.assign(reinterpret_cast<const char*>(in.data() + 11), n);
  return m;
}

}  // namespace turnpike::core
