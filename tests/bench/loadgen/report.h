// The load generator's result: human-readable lines, then one machine-readable line
// "RESULT {json}" that tests/bench/run.py parses.
#pragma once

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace bench {

class Report {
 public:
  void add(const std::string& key, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    fields_.emplace_back(key, buf);
  }
  void add(const std::string& key, const std::string& v) {
    std::string q = "\"";
    for (char c : v) {
      if (c == '"' || c == '\\') q += '\\';
      q += c;
    }
    fields_.emplace_back(key, q + "\"");
  }
  void add(const std::string& key, const char* v) { add(key, std::string(v)); }

  void print(bool json_only) const {
    if (!json_only) {
      for (const auto& [k, v] : fields_) std::printf("  %-28s %s\n", k.c_str(), v.c_str());
    }
    std::string line = "RESULT {";
    for (size_t i = 0; i < fields_.size(); ++i) {
      line += (i ? ", \"" : "\"") + fields_[i].first + "\": " + fields_[i].second;
    }
    std::printf("%s}\n", line.c_str());
    std::fflush(stdout);
  }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

}  // namespace bench
