#include "ledger/ledger_event.h"

namespace turnpike::ledger {
namespace {

// Copies a record into an event of type E; a record is never larger than its type, and at least
// as large as the fixed part that its size() does not vary.
template <typename E>
bool copy_into(const RecordHeader& h, const std::byte* bytes, LedgerEvent& out) {
  if (h.size > sizeof(E) || h.size < sizeof(EventHead)) return false;
  E& e = out.emplace<E>();
  std::memcpy(&e, bytes, h.size);
  return e.size() == h.size;  // a count or a length that does not match its bytes: corrupt
}

}  // namespace

bool decode_event(const RecordHeader& h, const std::byte* bytes, LedgerEvent& out) {
  switch (EventKind(h.kind)) {
    case EventKind::SessionStart:
      return copy_into<SessionStart>(h, bytes, out);
    case EventKind::SessionUpdate:
      return copy_into<SessionUpdate>(h, bytes, out);
    case EventKind::SessionEnd:
      return copy_into<SessionEnd>(h, bytes, out);
    case EventKind::SessionPeers:
      return copy_into<SessionPeers>(h, bytes, out) &&
             std::get<SessionPeers>(out).count <= SessionPeers::kMaxPeers;
    case EventKind::Refusal:
      return copy_into<Refusal>(h, bytes, out);
  }
  return false;
}

}  // namespace turnpike::ledger
