#include "net/handover_link.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <utility>

namespace turnpike::net {
namespace {

// SCM_MAX_FD is 253 in Linux.
constexpr size_t kFdsPerMessage = 250;

}  // namespace

bool HandoverLink::send(const core::HandoverMessage& m, const std::vector<int>& fds) {
  const std::vector<uint8_t> bytes = core::encode_handover_message(m);
  iovec iov{const_cast<uint8_t*>(bytes.data()), bytes.size()};
  msghdr h{};
  h.msg_iov = &iov;
  h.msg_iovlen = 1;
  std::vector<char> control;
  if (!fds.empty()) {
    control.resize(CMSG_SPACE(sizeof(int) * fds.size()));
    h.msg_control = control.data();
    h.msg_controllen = control.size();
    cmsghdr* c = CMSG_FIRSTHDR(&h);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t n;
  do {
    n = ::sendmsg(fd_.get(), &h, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n == ssize_t(bytes.size());
}

std::optional<core::HandoverMessage> HandoverLink::receive(int timeout_ms,
                                                           std::vector<UniqueFd>* fds,
                                                           std::string* why) {
  pollfd p{fd_.get(), POLLIN, 0};
  int r;
  do {
    r = ::poll(&p, 1, timeout_ms);
  } while (r < 0 && errno == EINTR);
  if (r == 0) {
    *why = "no answer within " + std::to_string(timeout_ms / 1000) + " s";
    return std::nullopt;
  }
  uint8_t buf[core::HandoverMessage::kMaxSize];
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kFdsPerMessage)];
  iovec iov{buf, sizeof buf};
  msghdr h{};
  h.msg_iov = &iov;
  h.msg_iovlen = 1;
  h.msg_control = control;
  h.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = ::recvmsg(fd_.get(), &h, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  for (cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      if (fds) {
        fds->emplace_back(fd);
      } else {
        ::close(fd);
      }
    }
  }
  if (n <= 0) {
    *why = n == 0 ? "the other process closed the link"
                  : std::string("recvmsg: ") + std::strerror(errno);
    return std::nullopt;
  }
  if (h.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
    *why = "a message or its descriptors were cut short";
    return std::nullopt;
  }
  auto m = core::decode_handover_message(core::Bytes(buf, size_t(n)));
  if (!m) *why = "a malformed message on the link";
  return m;
}

bool HandoverLink::send_state(const core::HandoverState& s, const std::vector<int>& fds,
                              std::string* why) {
  const std::vector<uint8_t> bytes = core::encode_handover(s);
  UniqueFd memfd(::memfd_create("turnpike-handover", MFD_CLOEXEC));
  if (!memfd) {
    *why = std::string("memfd_create: ") + std::strerror(errno);
    return false;
  }
  size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::write(memfd.get(), bytes.data() + off, bytes.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *why = std::string("writing the state: ") + std::strerror(errno);
      return false;
    }
    off += size_t(n);
  }
  // State: the memfd and the first sockets; then the rest, kFdsPerMessage at a time.
  std::vector<int> chunk{memfd.get()};
  size_t i = 0;
  for (; i < fds.size() && chunk.size() < kFdsPerMessage; ++i) chunk.push_back(fds[i]);
  if (!send({core::HandoverStep::State, uint32_t(fds.size()), {}}, chunk)) {
    *why = std::string("sending the state: ") + std::strerror(errno);
    return false;
  }
  while (i < fds.size()) {
    chunk.clear();
    for (; i < fds.size() && chunk.size() < kFdsPerMessage; ++i) chunk.push_back(fds[i]);
    if (!send({core::HandoverStep::Fds, uint32_t(chunk.size()), {}}, chunk)) {
      *why = std::string("sending sockets: ") + std::strerror(errno);
      return false;
    }
  }
  return true;
}

std::optional<core::HandoverState> HandoverLink::receive_state(int timeout_ms, uint16_t max_version,
                                                               std::vector<UniqueFd>* fds,
                                                               std::string* why,
                                                               bool* refused_version) {
  *refused_version = false;
  std::vector<UniqueFd> got;
  auto m = receive(timeout_ms, &got, why);
  if (!m) return std::nullopt;
  if (m->step != core::HandoverStep::State || got.empty()) {
    *why = std::string("expected the state, got ") + core::handover_step_name(m->step);
    return std::nullopt;
  }
  const size_t expected = m->value;
  UniqueFd memfd = std::move(got.front());
  fds->clear();
  for (size_t i = 1; i < got.size(); ++i) fds->push_back(std::move(got[i]));
  while (fds->size() < expected) {
    auto more = receive(timeout_ms, fds, why);
    if (!more) return std::nullopt;
    if (more->step != core::HandoverStep::Fds) {
      *why = std::string("expected sockets, got ") + core::handover_step_name(more->step);
      return std::nullopt;
    }
  }
  if (fds->size() != expected) {
    *why = "more sockets than the state announced";
    return std::nullopt;
  }
  struct stat st {};
  if (::fstat(memfd.get(), &st) != 0 || st.st_size <= 0 || st.st_size > (1 << 30)) {
    *why = "the state's memfd is empty or too large";
    return std::nullopt;
  }
  std::vector<uint8_t> bytes(size_t(st.st_size));
  size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::pread(memfd.get(), bytes.data() + off, bytes.size() - off, off_t(off));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *why = std::string("reading the state: ") + std::strerror(errno);
      return std::nullopt;
    }
    off += size_t(n);
  }
  core::HandoverDecoded d = core::decode_handover(bytes, max_version);
  if (!d.state) {
    *refused_version = d.error == core::HandoverDecodeError::UnsupportedVersion;
    *why = d.why;
    return std::nullopt;
  }
  if (d.state->fd_count != fds->size()) {
    *why = "the state names " + std::to_string(d.state->fd_count) + " sockets, " +
           std::to_string(fds->size()) + " came";
    return std::nullopt;
  }
  return std::move(d.state);
}

std::optional<Successor> spawn_successor(const std::string& binary,
                                         const std::vector<std::string>& args, std::string* why) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    *why = std::string("socketpair: ") + std::strerror(errno);
    return std::nullopt;
  }
  UniqueFd mine(sv[0]), theirs(sv[1]);
  // Everything the child needs is built before fork(): after it, only async-signal-safe calls.
  std::vector<std::string> argv_text;
  argv_text.push_back(binary);
  for (const auto& a : args) argv_text.push_back(a);
  argv_text.push_back("--takeover=" + std::to_string(theirs.get()));
  std::vector<char*> argv;
  for (auto& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int child_fd = theirs.get();
  const pid_t pid = ::fork();
  if (pid < 0) {
    *why = std::string("fork: ") + std::strerror(errno);
    return std::nullopt;
  }
  if (pid == 0) {
    // The link's end survives exec; signals are unblocked by the new program's own set-up.
    const int flags = ::fcntl(child_fd, F_GETFD);
    ::fcntl(child_fd, F_SETFD, flags & ~FD_CLOEXEC);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return Successor{pid, HandoverLink(std::move(mine))};
}

std::string own_binary_path() {
  std::error_code ec;
  const auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : p.string();
}

}  // namespace turnpike::net
