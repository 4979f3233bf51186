#include "net/privileges.h"

#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace turnpike::net {

namespace {

// Leaves exactly `keep` permitted and effective (and nothing inheritable).
bool set_capabilities(const std::vector<unsigned>& keep) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  for (unsigned cap : keep) {
    data[cap / 32].permitted |= 1u << (cap % 32);
    data[cap / 32].effective |= 1u << (cap % 32);
  }
  return syscall(SYS_capset, &header, data) == 0;
}

}  // namespace

std::string drop_privileges(const std::string& user, const std::string& group,
                            const std::vector<unsigned>& keep) {
  if (user.empty() && group.empty()) return {};
  gid_t gid = getgid();
  uid_t uid = getuid();
  if (!user.empty()) {
    const passwd* pw = getpwnam(user.c_str());
    if (!pw) return "proc-user '" + user + "' does not exist";
    uid = pw->pw_uid;
    gid = pw->pw_gid;
  }
  if (!group.empty()) {
    const struct group* gr = getgrnam(group.c_str());
    if (!gr) return "proc-group '" + group + "' does not exist";
    gid = gr->gr_gid;
  }
  // Already that user and group, without root (started by systemd as User=, or by a turnpike
  // that dropped root and hands over to a new binary): nothing to drop.
  if (geteuid() != 0 && getuid() == uid && geteuid() == uid && getgid() == gid && getegid() == gid)
    return {};
  if (!user.empty() && initgroups(user.c_str(), gid) != 0) {
    return std::string("initgroups: ") + std::strerror(errno);
  }
  if (setgid(gid) != 0)
    return "cannot switch to group id " + std::to_string(gid) + ": " + std::strerror(errno);
  // setuid() away from root clears every capability, unless asked to keep the permitted ones.
  if (!keep.empty() && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) {
    return std::string("prctl(PR_SET_KEEPCAPS): ") + std::strerror(errno);
  }
  if (setuid(uid) != 0) return "cannot switch to user '" + user + "': " + std::strerror(errno);
  if (!keep.empty()) {
    prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
    if (!set_capabilities(keep)) {
      return std::string("cannot keep the kernel offload's capabilities: ") + std::strerror(errno);
    }
  }
  return {};
}

}  // namespace turnpike::net
