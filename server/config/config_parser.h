// Reading turnserver.conf-style files and --option[=value] command lines into a Config.
//
// Syntax (coturn's): one option per line, "name=value", "name value" or a bare "name" for flags;
// lines starting with '#' are comments; a value may be wrapped in quotes. Every error names the
// file, the line, the option and what to do about it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace turnpike::config {

struct ConfigError {
  std::string file;  // path, or "command line"
  int line = 0;      // 0 when not from a file
  std::string option;
  std::string message;
  std::string to_string() const;
};

struct Location {
  std::string file;
  int line = 0;
};

// Applies one option. `value` is std::nullopt for a bare flag.
std::optional<ConfigError> apply_option(Config& cfg, std::string_view name,
                                        std::optional<std::string_view> value,
                                        const Location& where);

// Parses the text of a config file into `cfg` (options accumulate on top of what is there).
std::optional<ConfigError> parse_config_text(std::string_view text, const std::string& file,
                                             Config& cfg);
std::optional<ConfigError> parse_config_file(const std::string& path, Config& cfg);

// Checks what no single option can: port ranges, that some authentication is configured, ...
// May add notices to cfg.notices for things that are legal but probably not meant.
std::optional<ConfigError> validate(Config& cfg);
// The part of validate() about TCP/TLS/DTLS listeners, certificates and the multiplexer.
std::optional<ConfigError> validate_transports(Config& cfg);

// The daemon's command line: [-c FILE] [--option[=value] ...] [-n]. Command-line options are
// applied after the file and win over it (a repeatable option given on the command line
// replaces the file's values).
struct CommandLine {
  std::optional<Config> config;
  std::optional<ConfigError> error;
  bool help = false;
  bool version = false;
};
CommandLine parse_command_line(int argc, const char* const* argv);

// Names and one-line descriptions of every option, for --help.
std::string options_help();

}  // namespace turnpike::config
