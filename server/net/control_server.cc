#include "net/control_server.h"

#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "net/control_io.h"
#include "net/log.h"

namespace turnpike::net {
namespace {

constexpr int kIoTimeoutMs = 10000;  // a client that sends or reads nothing is dropped

}  // namespace

ControlServer::~ControlServer() {
  stop();
}

std::string ControlServer::listen(const std::string& path, const std::string& group, bool replace) {
  sockaddr_un a;
  std::string error;
  if (!make_address(path, &a, &error)) return error;
  // The directory (/run/turnpike), when the service manager has not made it.
  const size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    const std::string dir = path.substr(0, slash);
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0 && ::mkdir(dir.c_str(), 0755) != 0) {
      return "control-socket: cannot make the directory " + dir + ": " + std::strerror(errno);
    }
  }
  // A socket file already there: in use by a running turnpike, or left by one that is gone.
  {
    UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!replace && probe && ::connect(probe.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      return "control-socket " + path +
             ": another turnpike is running and answers on it (stop it, or give this one its own "
             "control-socket=PATH)";
    }
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode)) {
        return "control-socket " + path +
               ": the path exists and is not a socket; remove it or "
               "choose another control-socket=PATH";
      }
      ::unlink(path.c_str());
    }
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return std::string("control-socket: socket(): ") + std::strerror(errno);
  // Created with no access for others at all, then opened to the group: never a moment where a
  // stranger could connect.
  const mode_t old = ::umask(0177);
  const int rc = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
  const int bind_errno = errno;
  ::umask(old);
  if (rc != 0) {
    return "control-socket: cannot bind " + path + ": " + std::strerror(bind_errno);
  }
  if (!group.empty()) {
    if (const ::group* g = ::getgrnam(group.c_str())) {
      if (::chown(path.c_str(), ::geteuid(), g->gr_gid) != 0) {
        log(LogLevel::Warning, "control-socket ", path, ": cannot give it to group ", group, ": ",
            std::strerror(errno));
      }
    }
  }
  ::chmod(path.c_str(), 0660);
  struct stat mine {};
  if (::stat(path.c_str(), &mine) == 0) {
    dev_ = mine.st_dev;
    ino_ = mine.st_ino;
  }
  if (::listen(fd.get(), 16) != 0) {
    ::unlink(path.c_str());
    return "control-socket: cannot listen on " + path + ": " + std::strerror(errno);
  }
  path_ = path;
  listening_ = std::move(fd);
  wake_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  return {};
}

void ControlServer::start() {
  if (!listening_ || thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
}

void ControlServer::stop() {
  if (thread_.joinable()) {
    const uint64_t one = 1;
    (void)!::write(wake_.get(), &one, sizeof one);
    thread_.join();
  }
  if (listening_) {
    listening_.reset();
    struct stat now {};
    if (::stat(path_.c_str(), &now) == 0 && now.st_dev == dev_ && now.st_ino == ino_) {
      ::unlink(path_.c_str());
    }
  }
}

void ControlServer::run() {
  for (;;) {
    pollfd p[2] = {{listening_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      log(LogLevel::Error, "control-socket: poll(): ", std::strerror(errno));
      return;
    }
    if (p[1].revents) return;
    if (!(p[0].revents & POLLIN)) continue;
    UniqueFd c(::accept4(listening_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (c) serve(c.get());
  }
}

void ControlServer::serve(int fd) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kIoTimeoutMs);
  std::string error;
  auto request = read_message(fd, deadline, &error);
  core::ControlMessage answer;
  if (!request) {
    answer = core::ControlMessage::failure(error);
  } else if (!request->get("command")) {
    answer = core::ControlMessage::failure("no command in the request");
  } else {
    try {
      answer = handler_(*request);
    } catch (const std::exception& e) {
      answer = core::ControlMessage::failure(std::string("internal error: ") + e.what());
    }
  }
  auto bytes = core::encode_control(answer, &error);
  if (!bytes) bytes = core::encode_control(core::ControlMessage::failure(error), &error);
  if (bytes) write_all(fd, *bytes, deadline);
}

}  // namespace turnpike::net
