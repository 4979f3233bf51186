// The option table: every name turnpike accepts, its kind, and how it sets the Config.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"

namespace turnpike::config {

enum class OptionKind : uint8_t { Flag, Value };

// Returns an error message (what was wrong and what to write instead), or nothing.
using OptionSetter = std::optional<std::string> (*)(Config&, std::string_view value);
using OptionClearer = void (*)(Config&);

struct OptionSpec {
  std::string_view name;
  OptionKind kind;
  std::string_view help;          // one line for --help; for obsolete names, the notice
  OptionSetter set;               // flags receive "1" or "0"
  OptionClearer clear = nullptr;  // set for repeatable options
  bool obsolete = false;          // accepted for coturn/Jitsi configs, with one notice
};

// std::nullopt for an unknown name.
const OptionSpec* find_option(std::string_view name);

// All specs, for --help.
struct OptionTable {
  const OptionSpec* begin;
  const OptionSpec* end;
};
OptionTable option_table();

}  // namespace turnpike::config
