#include "core/check_token.h"

#include <cstring>
#include <utility>

#include "core/base64.h"
#include "core/bytes.h"
#include "core/constant_time.h"
#include "core/hmac.h"
#include "core/utf8.h"

namespace turnpike::core {

namespace {

constexpr uint8_t kVersion = 1;
constexpr size_t kMacBytes = 16;
constexpr size_t kFixedBytes = 1 + kCheckIdBytes + 4 + kMacBytes;

void mac_of(std::string_view secret, const CheckToken& t, uint8_t out[kMacBytes]) {
  static constexpr std::string_view kKeyLabel = "turnpike check-link key v1";
  uint8_t key[32];
  hmac(HashAlgorithm::Sha256,
       Bytes(reinterpret_cast<const uint8_t*>(secret.data()), secret.size()),
       Bytes(reinterpret_cast<const uint8_t*>(kKeyLabel.data()), kKeyLabel.size()), key);
  static constexpr char kLabel[] = "turnpike check-link";  // and its NUL
  uint8_t head[1 + kCheckIdBytes + 4];
  head[0] = kVersion;
  std::memcpy(head + 1, t.id.data(), kCheckIdBytes);
  store_be32(head + 1 + kCheckIdBytes, t.expires);
  Hmac h(HashAlgorithm::Sha256, Bytes(key, sizeof key));
  h.update(Bytes(reinterpret_cast<const uint8_t*>(kLabel), sizeof kLabel));
  h.update(Bytes(head, sizeof head));
  h.update(Bytes(reinterpret_cast<const uint8_t*>(t.note.data()), t.note.size()));
  uint8_t full[32];
  h.finish(full);
  std::memcpy(out, full, kMacBytes);
}

}  // namespace

std::string CheckToken::id_hex() const {
  static const char* const digits = "0123456789abcdef";
  std::string s;
  for (uint8_t b : id) {
    s += digits[b >> 4];
    s += digits[b & 15];
  }
  return s;
}

std::string make_check_token(std::string_view secret, const CheckToken& in) {
  CheckToken t = in;
  t.note.resize(utf8_prefix(t.note, kMaxCheckNoteBytes));  // never half a character
  std::string raw(kFixedBytes, '\0');
  auto* p = reinterpret_cast<uint8_t*>(raw.data());
  p[0] = kVersion;
  std::memcpy(p + 1, t.id.data(), kCheckIdBytes);
  store_be32(p + 1 + kCheckIdBytes, t.expires);
  mac_of(secret, t, p + 1 + kCheckIdBytes + 4);
  raw += t.note;
  return base64url_encode(Bytes(reinterpret_cast<const uint8_t*>(raw.data()), raw.size()));
}

const char* check_token_status_name(CheckTokenStatus s) {
  switch (s) {
    case CheckTokenStatus::Ok:
      return "ok";
    case CheckTokenStatus::Malformed:
      return "malformed";
    case CheckTokenStatus::BadMac:
      return "bad-mac";
    case CheckTokenStatus::Expired:
      return "expired";
  }
  return "?";
}

CheckTokenResult verify_check_token(std::string_view text, const std::vector<std::string>& secrets,
                                    int64_t now_unix) {
  CheckTokenResult r;
  if (text.size() > 2 * (kFixedBytes + kMaxCheckNoteBytes)) return r;
  auto raw = base64url_decode(text);
  if (!raw || raw->size() < kFixedBytes || raw->size() > kFixedBytes + kMaxCheckNoteBytes) return r;
  const auto* p = reinterpret_cast<const uint8_t*>(raw->data());
  if (p[0] != kVersion) return r;
  CheckToken t;
  std::memcpy(t.id.data(), p + 1, kCheckIdBytes);
  t.expires = load_be32(p + 1 + kCheckIdBytes);
  t.note = raw->substr(kFixedBytes);
  const uint8_t* mac = p + 1 + kCheckIdBytes + 4;
  r.status = CheckTokenStatus::BadMac;
  for (const auto& secret : secrets) {
    uint8_t expected[kMacBytes];
    mac_of(secret, t, expected);
    if (constant_time_equal(expected, mac, kMacBytes)) {
      r.token = std::move(t);
      r.status = int64_t(r.token.expires) < now_unix ? CheckTokenStatus::Expired : CheckTokenStatus::Ok;
      return r;
    }
  }
  return r;
}

}  // namespace turnpike::core
