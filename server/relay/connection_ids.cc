#include "relay/connection_ids.h"

#include <utility>

#include "core/random.h"

namespace turnpike::relay {

uint32_t ConnectionIds::issue(uint8_t worker, const SocketAddress& control) {
  std::lock_guard lock(mu_);
  for (;;) {
    uint32_t id = 0;
    random_.fill(reinterpret_cast<uint8_t*>(&id), sizeof id);
    if (id != 0 && entries_.emplace(id, Entry{worker, control}).second) return id;
  }
}

std::optional<ConnectionIds::Entry> ConnectionIds::find(uint32_t id) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

void ConnectionIds::release(uint32_t id) {
  std::lock_guard lock(mu_);
  entries_.erase(id);
}

size_t ConnectionIds::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace turnpike::relay
