#include "config/secret_files.h"

#include <sys/stat.h>

#include <cstdio>
#include <set>
#include <utility>

namespace turnpike::config {

std::vector<std::string> exposed_secret_files(const Config& c) {
  std::vector<std::pair<std::string, std::string>> files;  // (path, what it holds)
  for (const char* option : {"static-auth-secret", "user"}) {
    auto it = c.sites.find(option);
    if (it != c.sites.end() && it->second.line > 0) {
      files.emplace_back(it->second.file, std::string("the ") + option + " secret");
    }
  }
  const std::string key = !c.pkey.empty() ? c.pkey : c.cert;
  if (!key.empty()) files.emplace_back(key, "the TLS private key");
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& [path, what] : files) {
    if (!seen.insert(path).second) continue;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !(st.st_mode & S_IROTH)) continue;
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", unsigned(st.st_mode & 07777));
    out.push_back(path + " holds " + what + " and every user of this host can read it (mode " +
                  mode + "): run chmod o-rwx " + path +
                  " (turnpike and Prosody read it through the group)");
  }
  return out;
}

}  // namespace turnpike::config
