#include "core/dtls_hello.h"

#include <cstring>
#include <span>

namespace turnpike::core {
namespace {

constexpr uint8_t kHandshake = 22;          // ContentType.handshake
constexpr uint8_t kClientHello = 1;         // HandshakeType.client_hello
constexpr uint8_t kHelloVerifyRequest = 3;  // RFC 6347 §4.3.2
constexpr size_t kRecordHeader = 13;        // type, version, epoch, sequence_number, length
constexpr size_t kHandshakeHeader =
    12;  // type, length, message_seq, fragment_offset, fragment_length

}  // namespace

bool looks_like_dtls_handshake(Bytes d) {
  // RFC 6347 §4.1: DTLS versions are {254, x}; epoch 0 is the unencrypted handshake.
  return d.size() >= kRecordHeader && d[0] == kHandshake && d[1] == 254 && d[3] == 0 && d[4] == 0;
}

std::optional<DtlsClientHello> parse_dtls_client_hello(Bytes d) {
  if (!looks_like_dtls_handshake(d)) return std::nullopt;
  const size_t rec_len = load_be16(d.data() + 11);
  if (rec_len > d.size() - kRecordHeader || rec_len < kHandshakeHeader) return std::nullopt;
  const uint8_t* h = d.data() + kRecordHeader;
  if (h[0] != kClientHello) return std::nullopt;
  const uint32_t length = load_be24(h + 1);
  const uint32_t frag_offset = load_be24(h + 6);
  const uint32_t frag_length = load_be24(h + 9);
  // Only a ClientHello in one fragment is read: a cookie exchange never needs more, and a
  // fragmented first ClientHello is not worth reassembling for an unverified source.
  if (frag_offset != 0 || frag_length != length || length > rec_len - kHandshakeHeader) {
    return std::nullopt;
  }
  DtlsClientHello out;
  std::memcpy(out.record_sequence, d.data() + 5, 6);
  out.message_seq = load_be16(h + 4);
  const uint8_t* b = h + kHandshakeHeader;
  // client_version(2) random(32) session_id<0..32> cookie<0..2^8-1> (RFC 6347 §4.2.1)
  if (length < 2 + 32 + 1) return std::nullopt;
  if (b[0] != 254) return std::nullopt;
  size_t pos = 34;
  const size_t sid = b[pos];
  if (sid > 32 || pos + 1 + sid + 1 > length) return std::nullopt;
  pos += 1 + sid;
  const size_t cookie_len = b[pos];
  if (pos + 1 + cookie_len > length) return std::nullopt;
  out.cookie = Bytes(b + pos + 1, cookie_len);
  return out;
}

size_t write_hello_verify_request(const DtlsClientHello& hello, Bytes cookie, uint8_t* out) {
  const size_t body = 2 + 1 + cookie.size();
  uint8_t* p = out;
  // Record header. RFC 6347 §4.2.1: the version is DTLS 1.0 whatever will be negotiated, and
  // the record sequence number is the ClientHello's.
  p[0] = kHandshake;
  p[1] = 254;
  p[2] = 255;
  p[3] = 0;  // epoch 0
  p[4] = 0;
  std::memcpy(p + 5, hello.record_sequence, 6);
  store_be16(p + 11, uint16_t(kHandshakeHeader + body));
  p += kRecordHeader;
  // Handshake header: the server's first message has message_seq 0 (RFC 6347 §4.2.2).
  p[0] = kHelloVerifyRequest;
  store_be24(p + 1, uint32_t(body));
  store_be16(p + 4, 0);
  store_be24(p + 6, 0);
  store_be24(p + 9, uint32_t(body));
  p += kHandshakeHeader;
  p[0] = 254;  // server_version: DTLS 1.0
  p[1] = 255;
  p[2] = uint8_t(cookie.size());
  std::memcpy(p + 3, cookie.data(), cookie.size());
  return kRecordHeader + kHandshakeHeader + body;
}

}  // namespace turnpike::core
