#include "loadgen/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace bench {

bool enter_netns(const std::string& name_or_path, std::string* error) {
  const std::string path =
      name_or_path.find('/') == std::string::npos ? "/run/netns/" + name_or_path : name_or_path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *error = "open " + path + ": " + std::strerror(errno);
    return false;
  }
  const bool ok = ::setns(fd, CLONE_NEWNET) == 0;
  if (!ok) *error = "setns " + path + ": " + std::strerror(errno) + " (needs root)";
  ::close(fd);
  return ok;
}

}  // namespace bench
