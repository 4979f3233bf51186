#include "cmd/admin_args.h"

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
        continue;
      }
      a.lists[name].push_back(a.values[name]);
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

}  // namespace turnpike::cmd
