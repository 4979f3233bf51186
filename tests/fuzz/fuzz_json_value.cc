// What a stranger sends the check page: arbitrary bytes parsed as its JSON body
// (core/json_value.h), the tree walked, and the token read from it (or the bytes themselves)
// checked by the check link's verifier (core/check_token.h). Invariants: the caps hold, a
// refusal always says why, a token made from the same secret verifies with its note intact.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "core/check_token.h"
#include "core/json_value.h"

using namespace turnpike::core;

namespace {

const std::vector<std::string> kSecrets = {"secret"};

size_t walk(const JsonValue& v, size_t depth) {
  if (depth > JsonValue::Limits{}.max_depth) __builtin_trap();  // the depth cap must hold
  size_t n = 1;
  for (const auto& item : v.array()) n += walk(item, depth + 1);
  for (const char* key : {"token", "results", "url", "candidates"}) {
    if (const JsonValue* m = v.get(key)) n += walk(*m, depth + 1);
  }
  return n;
}

void check_token(std::string_view text) {
  const CheckTokenResult r = verify_check_token(text, kSecrets, 0);
  if (r.status == CheckTokenStatus::Ok && text.empty()) __builtin_trap();
  (void)check_token_status_name(r.status);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string err;
  if (auto v = JsonValue::parse(text, &err)) {
    if (size > JsonValue::Limits{}.max_bytes) __builtin_trap();  // the size cap must hold
    if (walk(*v, 0) > JsonValue::Limits{}.max_values) __builtin_trap();
    (void)v->get_string("verdict");
    (void)v->get_number("rtt_ms");
    if (auto token = v->get_string("token")) check_token(*token);
  } else if (err.empty()) {
    __builtin_trap();  // a refusal always says why
  }
  check_token(text);

  // A token made from these bytes (id from the first ones, the rest as the note) verifies,
  // with its note cut on a UTF-8 boundary to at most kMaxCheckNoteBytes, never longer.
  CheckToken t;
  std::memcpy(t.id.data(), data, std::min(size, t.id.size()));
  t.expires = 1;
  t.note.assign(text.substr(std::min(size, t.id.size())));
  const CheckTokenResult made = verify_check_token(make_check_token(kSecrets[0], t), kSecrets, 0);
  if (made.status != CheckTokenStatus::Ok || made.token.id != t.id ||
      made.token.note.size() > kMaxCheckNoteBytes ||
      t.note.compare(0, made.token.note.size(), made.token.note) != 0) {
    __builtin_trap();
  }
  return 0;
}
