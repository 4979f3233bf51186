#include "relay/connection_ids.h"

#include "core/random.h"

namespace turnpike::relay {

uint32_t ConnectionIds::issue(uint8_t worker) {
  std::lock_guard lock(mu_);
  for (;;) {
    uint32_t id = 0;
    core::random_bytes(reinterpret_cast<uint8_t*>(&id), sizeof id);
    if (id != 0 && owners_.emplace(id, worker).second) return id;
  }
}

std::optional<uint8_t> ConnectionIds::owner(uint32_t id) const {
  std::lock_guard lock(mu_);
  auto it = owners_.find(id);
  if (it == owners_.end()) return std::nullopt;
  return it->second;
}

void ConnectionIds::release(uint32_t id) {
  std::lock_guard lock(mu_);
  owners_.erase(id);
}

size_t ConnectionIds::size() const {
  std::lock_guard lock(mu_);
  return owners_.size();
}

}  // namespace turnpike::relay
