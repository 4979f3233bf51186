#include "cmd/admin_args.h"

#include <cstdio>
#include <utility>

namespace turnpike::cmd {

AdminArgs AdminArgs::parse(int argc, char** argv, int first,
                           const std::set<std::string>& value_options) {
  AdminArgs a;
  for (int i = first; i < argc; ++i) {
    std::string s = argv[i];
    if (s == "-c") s = "--config";
    if (s.rfind("--", 0) != 0) {
      a.positional.push_back(s);
      continue;
    }
    s = s.substr(2);
    const size_t eq = s.find('=');
    std::string name = s.substr(0, eq);
    if (value_options.count(name)) {
      if (eq != std::string::npos) {
        a.values[name] = s.substr(eq + 1);
      } else if (i + 1 < argc) {
        a.values[name] = argv[++i];
      } else {
        a.error = "--" + name + " needs a value";
      }
    } else if (eq == std::string::npos) {
      a.flags.insert(name);
    } else {
      a.error = "unknown option --" + name;
    }
  }
  return a;
}

std::optional<std::string> AdminArgs::get(const std::string& name) const {
  auto it = values.find(name);
  if (it == values.end()) return std::nullopt;
  return it->second;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += char(c);
        }
    }
  }
  return out + "\"";
}

}  // namespace turnpike::cmd
