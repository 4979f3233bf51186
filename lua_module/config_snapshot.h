// One successfully loaded turnpike config file, as the Lua module keeps it: the parsed Config,
// the file's identity (to notice a rotation on disk) and its text (to tell a real change from a
// touch). No Lua here, so the rules are testable and the Lua binding stays thin.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "config/config.h"

namespace turnpike::lua {

// What stat(2) says about the file; any difference means "look again".
struct FileIdentity {
  uint64_t device = 0;
  uint64_t inode = 0;
  int64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  friend bool operator==(const FileIdentity&, const FileIdentity&) = default;
};

struct ConfigSnapshot {
  std::string path;
  config::Config config;
  FileIdentity identity;
  std::string text;
  int64_t loaded_at = 0;  // unix seconds
};

// Reads, parses and validates the file with the daemon's own parser (server/config), and checks
// what the credential desk needs on top: a static-auth-secret to sign with and use-auth-secret,
// without which the relay refuses every credential Prosody would hand out.
// Every error message names the file and says what to do.
std::variant<ConfigSnapshot, std::string> load_snapshot(const std::string& path);

// The file's identity now, or std::nullopt with errno set when it cannot be stat'ed.
std::optional<FileIdentity> identify_file(const std::string& path);

}  // namespace turnpike::lua
