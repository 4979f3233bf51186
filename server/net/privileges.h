// Dropping root after the ports are bound and the keys read (coturn's proc-user/proc-group).
#pragma once

#include <string>

namespace turnpike::net {

// Switches to `user` (and its group, or `group` when given). Returns an error text.
std::string drop_privileges(const std::string& user, const std::string& group);

}  // namespace turnpike::net
