#include "net/control_io.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "net/unique_fd.h"

namespace turnpike::net {
namespace {

// Waits for `events` on `fd` until the deadline; false on timeout or error.
bool wait_for(int fd, short events, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, int(left));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

}  // namespace

bool make_address(const std::string& path, sockaddr_un* a, std::string* error) {
  std::memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof a->sun_path) {
    *error = "control-socket path '" + path + "' is empty or longer than " +
             std::to_string(sizeof a->sun_path - 1) + " bytes";
    return false;
  }
  std::memcpy(a->sun_path, path.data(), path.size());
  return true;
}

// Reads one message from `fd` (blocking until the deadline).
std::optional<core::ControlMessage> read_message(int fd,
                                                 std::chrono::steady_clock::time_point deadline,
                                                 std::string* error) {
  std::vector<uint8_t> buf;
  size_t need = core::kControlHeader;
  for (;;) {
    core::ControlMessage m;
    size_t used = 0;
    switch (core::decode_control(buf, &m, &used, &need, error)) {
      case core::ControlDecode::Ok:
        return m;
      case core::ControlDecode::Invalid:
        return std::nullopt;
      case core::ControlDecode::NeedMore:
        break;
    }
    if (!wait_for(fd, POLLIN, deadline)) {
      *error = "timed out waiting for a control message";
      return std::nullopt;
    }
    const size_t have = buf.size();
    buf.resize(need > have ? need : have + 1);
    const ssize_t n = ::recv(fd, buf.data() + have, buf.size() - have, 0);
    if (n <= 0) {
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        buf.resize(have);
        continue;
      }
      *error = n == 0 ? "the other side closed before a whole message" : std::strerror(errno);
      return std::nullopt;
    }
    buf.resize(have + size_t(n));
  }
}

bool write_all(int fd, const std::vector<uint8_t>& data,
               std::chrono::steady_clock::time_point deadline) {
  size_t off = 0;
  while (off < data.size()) {
    if (!wait_for(fd, POLLOUT, deadline)) return false;
    const ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return false;
    }
    off += size_t(n);
  }
  return true;
}

std::optional<core::ControlMessage> control_request(const std::string& path,
                                                    const core::ControlMessage& request,
                                                    int timeout_ms, std::string* error) {
  sockaddr_un a;
  if (!make_address(path, &a, error)) return std::nullopt;
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) {
    *error = std::string("socket(): ") + std::strerror(errno);
    return std::nullopt;
  }
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    const int e = errno;
    *error = "cannot connect to the control socket " + path + ": " + std::strerror(e);
    if (e == ENOENT || e == ECONNREFUSED) {
      *error += " (is turnpike running with this config? its control-socket= names the path)";
    } else if (e == EACCES || e == EPERM) {
      *error += " (run as root or as a member of the group turnpike)";
    }
    return std::nullopt;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  auto bytes = core::encode_control(request, error);
  if (!bytes) return std::nullopt;
  if (!write_all(fd.get(), *bytes, deadline)) {
    *error = "cannot send to the control socket " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  auto answer = read_message(fd.get(), deadline, error);
  if (!answer) *error = "no answer on the control socket " + path + ": " + *error;
  return answer;
}

}  // namespace turnpike::net
