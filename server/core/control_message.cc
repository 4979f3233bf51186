#include "core/control_message.h"

#include <cstring>

namespace turnpike::core {
namespace {

constexpr uint8_t kMagic[4] = {'T', 'P', 'C', 'M'};

}  // namespace

const std::string* ControlMessage::get(std::string_view name) const {
  for (const auto& [n, v] : fields) {
    if (n == name) return &v;
  }
  return nullptr;
}

std::vector<std::string> ControlMessage::all(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [n, v] : fields) {
    if (n == name) out.push_back(v);
  }
  return out;
}

bool valid_control_name(std::string_view name) {
  if (name.empty() || name.size() > kControlMaxName) return false;
  for (char c : name) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::optional<std::vector<uint8_t>> encode_control(const ControlMessage& m, std::string* error) {
  if (m.fields.size() > kControlMaxFields) {
    *error = "too many fields (" + std::to_string(m.fields.size()) + ")";
    return std::nullopt;
  }
  size_t body = 0;
  for (const auto& [n, v] : m.fields) {
    if (!valid_control_name(n)) {
      *error = "invalid field name";
      return std::nullopt;
    }
    body += 1 + n.size() + 4 + v.size();
  }
  if (body > kControlMaxBody) {
    *error = "message too large (" + std::to_string(body) + " bytes)";
    return std::nullopt;
  }
  std::vector<uint8_t> out(kControlHeader + body);
  uint8_t* p = out.data();
  std::memcpy(p, kMagic, 4);
  store_be16(p + 4, kControlVersion);
  store_be16(p + 6, uint16_t(m.fields.size()));
  store_be32(p + 8, uint32_t(body));
  p += kControlHeader;
  for (const auto& [n, v] : m.fields) {
    *p++ = uint8_t(n.size());
    std::memcpy(p, n.data(), n.size());
    p += n.size();
    store_be32(p, uint32_t(v.size()));
    p += 4;
    if (!v.empty()) std::memcpy(p, v.data(), v.size());
    p += v.size();
  }
  return out;
}

ControlDecode decode_control(Bytes in, ControlMessage* out, size_t* consumed, size_t* need,
                             std::string* error) {
  *need = kControlHeader;
  if (in.empty()) return ControlDecode::NeedMore;
  // A prefix of the magic is still possibly valid; anything else is refused at once.
  if (std::memcmp(in.data(), kMagic, in.size() < 4 ? in.size() : 4) != 0) {
    *error = "not a turnpike control message";
    return ControlDecode::Invalid;
  }
  if (in.size() < kControlHeader) return ControlDecode::NeedMore;
  const uint16_t version = load_be16(in.data() + 4);
  if (version != kControlVersion) {
    *error = "control message version " + std::to_string(version) + ", this program speaks " +
             std::to_string(kControlVersion) +
             " (turnpike and turnpike-admin are from different versions: finish the upgrade, "
             "or restart turnpike)";
    return ControlDecode::Invalid;
  }
  const size_t count = load_be16(in.data() + 6);
  const size_t body = load_be32(in.data() + 8);
  if (body > kControlMaxBody) {
    *error = "control message body of " + std::to_string(body) + " bytes (at most " +
             std::to_string(kControlMaxBody) + ")";
    return ControlDecode::Invalid;
  }
  // Each field takes at least 6 bytes: a count the body cannot hold is refused before reading.
  if (count * 6 > body) {
    *error = "control message: " + std::to_string(count) + " fields cannot fit in " +
             std::to_string(body) + " bytes";
    return ControlDecode::Invalid;
  }
  *need = kControlHeader + body;
  if (in.size() < *need) return ControlDecode::NeedMore;
  ControlMessage m;
  m.fields.reserve(count);
  const uint8_t* p = in.data() + kControlHeader;
  const uint8_t* end = p + body;
  for (size_t i = 0; i < count; ++i) {
    if (end - p < 1) break;
    const size_t nlen = *p++;
    if (size_t(end - p) < nlen + 4) {
      *error = "control message: field " + std::to_string(i) + " is truncated";
      return ControlDecode::Invalid;
    }
    std::string name(reinterpret_cast<const char*>(p), nlen);
    p += nlen;
    if (!valid_control_name(name)) {
      *error = "control message: field " + std::to_string(i) + " has an invalid name";
      return ControlDecode::Invalid;
    }
    const size_t vlen = load_be32(p);
    p += 4;
    if (size_t(end - p) < vlen) {
      *error = "control message: field " + std::to_string(i) + " is truncated";
      return ControlDecode::Invalid;
    }
    m.fields.emplace_back(std::move(name), std::string(reinterpret_cast<const char*>(p), vlen));
    p += vlen;
  }
  if (m.fields.size() != count || p != end) {
    *error = "control message: the body does not hold exactly " + std::to_string(count) + " fields";
    return ControlDecode::Invalid;
  }
  *out = std::move(m);
  *consumed = *need;
  return ControlDecode::Ok;
}

}  // namespace turnpike::core
