// Dropping root after the ports are bound and the keys read (coturn's proc-user/proc-group).
#pragma once

#include <string>
#include <vector>

namespace turnpike::net {

// Switches to `user` (and its group, or `group` when given), keeping the capabilities in `keep`
// (CAP_* numbers; the kernel fast path may need some, see KernelOffload::needed_capabilities)
// and no other. Call it before any thread starts: capabilities are per thread. Returns an error
// text.
std::string drop_privileges(const std::string& user, const std::string& group,
                            const std::vector<unsigned>& keep = {});

}  // namespace turnpike::net
