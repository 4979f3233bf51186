// A small argument reader for turnpike-admin subcommands: "--name value", "--name=value",
// "-c FILE", and flags.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace turnpike::cmd {

struct AdminArgs {
  std::map<std::string, std::string> values;  // "--user alice" -> values["user"] = "alice"
  std::set<std::string> flags;                // "--json" -> flags has "json"
  std::vector<std::string> positional;
  std::string error;

  // `value_options` are the options that take a value; everything else starting with "--" is a
  // flag. "-c" is "--config".
  static AdminArgs parse(int argc, char** argv, int first,
                         const std::set<std::string>& value_options);
  std::optional<std::string> get(const std::string& name) const;
  bool has(const std::string& flag) const { return flags.count(flag) > 0; }
};

// Escapes a string for a JSON document.
std::string json_string(const std::string& s);

}  // namespace turnpike::cmd
