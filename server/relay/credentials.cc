#include "relay/credentials.h"

#include <utility>

namespace turnpike::relay {

void Credentials::add_user(std::string name, StaticUserEntry e) {
  const auto h = core::userhash(name, realm);
  users_by_hash[std::string(reinterpret_cast<const char*>(h.data()), h.size())] = name;
  users[std::move(name)] = std::move(e);
}

}  // namespace turnpike::relay
