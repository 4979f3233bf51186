// Parses arbitrary bytes as a STUN message and touches everything a server reads from one.
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

#include "core/attributes/xor_address.h"
#include "core/message_integrity.h"
#include "core/stun_message.h"
#include "core/stun_writer.h"

using namespace turnpike::core;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto m = StunMessage::parse(Bytes(data, size));
  if (!m) return 0;
  uint8_t sink = 0;
  m->for_each([&](const Attribute& a) {
    for (uint8_t b : m->value(a)) sink ^= b;
    if (a.type == attr::XorPeerAddress || a.type == attr::XorMappedAddress) {
      (void)decode_xor_address(m->value(a), m->bytes().data());
    }
  });
  uint16_t unknown[16];
  (void)m->unknown_comprehension_required(unknown, 16);
  const uint8_t key[16] = {1, 2, 3};
  (void)verify_message_integrity(*m, Bytes(key, sizeof key));
  (void)verify_message_integrity_sha256(*m, Bytes(key, sizeof key));
  // Re-encode the counted attributes; the writer must never overflow its buffer.
  uint8_t out[256];
  StunWriter w(MutableBytes(out, sizeof out), m->type(), m->transaction_id());
  m->for_each([&](const Attribute& a) { w.add(a.type, m->value(a)); });
  w.add_message_integrity(Bytes(key, sizeof key));
  w.add_fingerprint();
  if (w.ok()) {
    auto again = StunMessage::parse(w.bytes());
    if (!again || !verify_message_integrity(*again, Bytes(key, sizeof key))) __builtin_trap();
  }
  asm volatile("" : : "r"(sink));  // keep the reads
  return 0;
}
