#include "lua_module/config_snapshot.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <vector>

#include "config/config_parser.h"

namespace turnpike::lua {
namespace {

// Config files are a few kilobytes; anything this large is not one.
constexpr int64_t kMaxConfigBytes = 4 * 1024 * 1024;

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

FileIdentity identity_of(const struct stat& st) {
  FileIdentity id;
  id.device = uint64_t(st.st_dev);
  id.inode = uint64_t(st.st_ino);
  id.size = int64_t(st.st_size);
  id.mtime_ns = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  id.ctime_ns = int64_t(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
  return id;
}

std::string user_name(uid_t uid) {
  if (const passwd* pw = ::getpwuid(uid)) return pw->pw_name;
  return "uid " + std::to_string(uid);
}

std::string group_name(gid_t gid) {
  if (const group* gr = ::getgrgid(gid)) return gr->gr_name;
  return std::to_string(gid);
}

// EACCES is the classic deployment mistake (the secret file is root:turnpike 0640 and Prosody's
// user is not in the group yet), so spell out the fix.
std::string permission_advice(const std::string& path) {
  const std::string me = user_name(::geteuid());
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return "; this process runs as '" + me + "': make the file and its directories readable by it";
  }
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", unsigned(st.st_mode & 07777));
  const std::string group = group_name(st.st_gid);
  return "; this process runs as '" + me + "' and the file is " + user_name(st.st_uid) + ":" +
         group + " mode " + mode + ": add '" + me + "' to group '" + group + "' (adduser " + me +
         " " + group +
         ") and restart the process so it gets the new group, or make the file readable by it";
}

std::string cannot_read(const std::string& path, int err) {
  std::string msg = path + ": cannot read turnpike's config file (" + std::strerror(err) + ")";
  if (err == ENOENT)
    return msg + "; check the path (turnpike's default is /etc/turnpike/turnpike.conf)";
  if (err == EACCES || err == EPERM) return msg + permission_advice(path);
  return msg;
}

}  // namespace

std::optional<FileIdentity> identify_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return identity_of(st);
}

std::variant<ConfigSnapshot, std::string> load_snapshot(const std::string& path) {
  if (path.empty())
    return std::string("no config file given: pass the path of turnpike's config file");
  const FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (fd.get() < 0) return cannot_read(path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return cannot_read(path, errno);
  if (!S_ISREG(st.st_mode)) {
    return path + ": is " + (S_ISDIR(st.st_mode) ? "a directory" : "not a regular file") +
           ", not turnpike's config file; give the path of the file itself";
  }
  if (st.st_size > kMaxConfigBytes) {
    return path + ": is " + std::to_string(st.st_size) +
           " bytes, too large for turnpike's config file";
  }

  ConfigSnapshot snap;
  snap.path = path;
  snap.identity = identity_of(st);
  snap.text.resize(size_t(st.st_size));
  size_t got = 0;
  while (true) {
    if (got == snap.text.size()) snap.text.resize(got + 4096);  // the file grew while we read it
    const ssize_t n = ::read(fd.get(), snap.text.data() + got, snap.text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return cannot_read(path, errno);
    if (n == 0) break;
    got += size_t(n);
    if (int64_t(got) > kMaxConfigBytes)
      return path + ": grew beyond " + std::to_string(kMaxConfigBytes) + " bytes while being read";
  }
  snap.text.resize(got);

  snap.config.source = path;
  if (auto err = config::parse_config_text(snap.text, path, snap.config)) return err->to_string();
  if (auto err = config::validate(snap.config)) return err->to_string();
  if (snap.config.static_auth_secrets.empty()) {
    return path +
           ": has no static-auth-secret line, so there is no secret to sign credentials with; add "
           "use-auth-secret and static-auth-secret=SECRET (turnpike-admin secret generate makes "
           "one)";
  }
  if (!snap.config.use_auth_secret) {
    return path +
           ": has static-auth-secret but not use-auth-secret, so the relay refuses every "
           "credential minted from it; add a use-auth-secret line";
  }
  snap.loaded_at = int64_t(std::time(nullptr));
  return snap;
}

}  // namespace turnpike::lua
