// A small argument reader for turnpike-admin subcommands: "--name value", "--name=value",
// "-c FILE", and flags.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/text_escape.h"

namespace turnpike::cmd {

struct AdminArgs {
  std::map<std::string, std::string> values;  // "--user alice" -> values["user"] = "alice"
  std::map<std::string, std::vector<std::string>> lists;  // every value of a repeated option
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

// JSON strings and text that clients sent: core/text_escape.h (one rule for both).
using core::escape_text;
using core::json_string;

}  // namespace turnpike::cmd
