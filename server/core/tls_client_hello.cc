#include "core/tls_client_hello.h"

#include <algorithm>
#include <span>

namespace turnpike::core {
namespace {

constexpr uint8_t kHandshakeRecord = 22;  // RFC 8446 §5.1 ContentType.handshake
constexpr uint8_t kClientHello = 1;       // RFC 8446 §4 HandshakeType.client_hello
constexpr uint16_t kServerNameExt = 0;    // RFC 6066 §3
constexpr uint16_t kAlpnExt = 16;         // RFC 7301 §3.1
constexpr size_t kRecordHeader = 5;
constexpr size_t kMaxRecord = 16384 + 256;  // RFC 8446 §5.1: 2^14 (+ a little slack)

// A bounds-checked reader over the ClientHello body; every read fails once past the end.
class Reader {
 public:
  explicit Reader(Bytes b) : b_(b) {}
  bool u8(uint32_t* v) { return fixed(1, v); }
  bool u16(uint32_t* v) { return fixed(2, v); }
  bool u24(uint32_t* v) { return fixed(3, v); }
  bool take(size_t n, Bytes* out) {
    if (n > b_.size() - pos_) return false;
    *out = b_.subspan(pos_, n);
    pos_ += n;
    return true;
  }
  bool skip(size_t n) {
    Bytes ignored;
    return take(n, &ignored);
  }
  bool done() const { return pos_ == b_.size(); }

 private:
  bool fixed(size_t n, uint32_t* v) {
    if (n > b_.size() - pos_) return false;
    uint32_t x = 0;
    for (size_t i = 0; i < n; ++i) x = (x << 8) | b_[pos_ + i];
    *v = x;
    pos_ += n;
    return true;
  }
  Bytes b_;
  size_t pos_ = 0;
};

// An extension body that is exactly one vector with a 16-bit length (RFC 8446 §3.4): its contents.
bool whole_vector16(Bytes ext, Bytes* contents) {
  Reader r(ext);
  uint32_t len;
  return r.u16(&len) && r.take(len, contents) && r.done();
}

bool parse_server_name(Bytes ext, ClientHelloInfo* out) {
  // RFC 6066 §3: ServerNameList { NameType name_type; opaque HostName<1..2^16-1>; }
  Bytes list;
  if (!whole_vector16(ext, &list)) return false;
  Reader l(list);
  while (!l.done()) {
    uint32_t type, len;
    Bytes name;
    if (!l.u8(&type) || !l.u16(&len) || !l.take(len, &name)) return false;
    if (type == 0 && out->server_name.empty()) {
      out->server_name.assign(name.begin(), name.end());
      // Host names compare case-insensitively (RFC 6066 §3, RFC 4343).
      std::transform(out->server_name.begin(), out->server_name.end(), out->server_name.begin(),
                     [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; });
    }
  }
  return true;
}

bool parse_alpn(Bytes ext, ClientHelloInfo* out) {
  // RFC 7301 §3.1: ProtocolName protocol_name_list<2..2^16-1>, ProtocolName opaque<1..2^8-1>.
  Bytes list;
  if (!whole_vector16(ext, &list)) return false;
  Reader l(list);
  while (!l.done()) {
    uint32_t len;
    Bytes name;
    if (!l.u8(&len) || len == 0 || !l.take(len, &name)) return false;
    out->alpn.emplace_back(name.begin(), name.end());
  }
  return true;
}

bool parse_body(Bytes body, ClientHelloInfo* out) {
  // RFC 8446 §4.1.2 (and RFC 5246 §7.4.1.2, the same layout for TLS 1.2).
  Reader r(body);
  uint32_t version, len;
  if (!r.u16(&version) || (version >> 8) != 3) return false;
  if (!r.skip(32)) return false;                                           // random
  if (!r.u8(&len) || len > 32 || !r.skip(len)) return false;               // legacy_session_id
  if (!r.u16(&len) || len < 2 || (len & 1) || !r.skip(len)) return false;  // cipher_suites
  if (!r.u8(&len) || len < 1 || !r.skip(len)) return false;  // legacy_compression_methods
  if (r.done()) return true;  // no extensions (possible before TLS 1.3)
  uint32_t ext_total;
  Bytes exts;
  if (!r.u16(&ext_total) || !r.take(ext_total, &exts) || !r.done()) return false;
  Reader e(exts);
  bool seen_sni = false, seen_alpn = false;
  while (!e.done()) {
    uint32_t type, ext_len;
    Bytes ext;
    if (!e.u16(&type) || !e.u16(&ext_len) || !e.take(ext_len, &ext)) return false;
    if (type == kServerNameExt) {
      // RFC 8446 §4.2: an extension appears at most once.
      if (seen_sni || !parse_server_name(ext, out)) return false;
      seen_sni = true;
    } else if (type == kAlpnExt) {
      if (seen_alpn || !parse_alpn(ext, out)) return false;
      seen_alpn = true;
    }
  }
  return true;
}

}  // namespace

bool ClientHelloInfo::offers(std::string_view protocol) const {
  return std::find(alpn.begin(), alpn.end(), protocol) != alpn.end();
}

HelloStatus parse_client_hello(Bytes data, ClientHelloInfo* out) {
  *out = ClientHelloInfo{};
  if (data.empty()) return HelloStatus::NeedMore;
  if (data[0] != kHandshakeRecord) return HelloStatus::NotTls;
  if (data.size() >= 2 && data[1] != 3) return HelloStatus::NotTls;

  // Gather the handshake bytes of consecutive handshake records until the ClientHello (4-byte
  // header plus its length) is complete.
  std::vector<uint8_t> hs;
  size_t pos = 0;
  for (;;) {
    if (data.size() - pos < kRecordHeader) return HelloStatus::NeedMore;
    const uint8_t* rec = data.data() + pos;
    if (rec[0] != kHandshakeRecord || rec[1] != 3) return HelloStatus::Invalid;
    const size_t rec_len = load_be16(rec + 3);
    if (rec_len == 0 || rec_len > kMaxRecord) return HelloStatus::Invalid;
    if (data.size() - pos - kRecordHeader < rec_len) {
      // The record is incomplete; give up only when it could never fit.
      return hs.size() + rec_len > kMaxClientHello + 4 ? HelloStatus::Invalid
                                                       : HelloStatus::NeedMore;
    }
    hs.insert(hs.end(), rec + kRecordHeader, rec + kRecordHeader + rec_len);
    pos += kRecordHeader + rec_len;
    if (hs.size() >= 4) {
      if (hs[0] != kClientHello) return HelloStatus::Invalid;
      const size_t body_len = load_be24(&hs[1]);
      if (body_len > kMaxClientHello) return HelloStatus::Invalid;
      if (hs.size() >= 4 + body_len) {
        return parse_body(Bytes(hs.data() + 4, body_len), out) ? HelloStatus::Ok
                                                               : HelloStatus::Invalid;
      }
    }
    if (hs.size() > kMaxClientHello + 4) return HelloStatus::Invalid;
  }
}

}  // namespace turnpike::core
