#include "net/privileges.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace turnpike::net {

std::string drop_privileges(const std::string& user, const std::string& group) {
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
  if (!user.empty() && initgroups(user.c_str(), gid) != 0) {
    return std::string("initgroups: ") + std::strerror(errno);
  }
  if (setgid(gid) != 0)
    return "cannot switch to group id " + std::to_string(gid) + ": " + std::strerror(errno);
  if (setuid(uid) != 0) return "cannot switch to user '" + user + "': " + std::strerror(errno);
  return {};
}

}  // namespace turnpike::net
