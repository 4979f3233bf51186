// A JSON object built member by member, in order, for `turnpike-admin probe --json`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/text_escape.h"

namespace turnpike::probe {

class JsonObject {
 public:
  JsonObject& add(std::string_view key, std::string_view value) {
    return raw(key, core::json_string(value));
  }
  JsonObject& add(std::string_view key, const char* value) { return add(key, std::string_view(value)); }
  JsonObject& add(std::string_view key, const std::string& value) {
    return add(key, std::string_view(value));
  }
  JsonObject& add(std::string_view key, int64_t value) { return raw(key, std::to_string(value)); }
  JsonObject& add(std::string_view key, int value) { return add(key, int64_t(value)); }
  JsonObject& add(std::string_view key, uint16_t value) { return add(key, int64_t(value)); }
  JsonObject& add(std::string_view key, uint32_t value) { return add(key, int64_t(value)); }
  JsonObject& add(std::string_view key, double value) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", value);
    return raw(key, buf);
  }
  JsonObject& add(std::string_view key, bool value) { return raw(key, value ? "true" : "false"); }
  JsonObject& add(std::string_view key, const std::vector<std::string>& list) {
    std::string s = "[";
    for (size_t i = 0; i < list.size(); ++i) {
      // Appended, not (i ? "," : "") + ...: GCC 12 -O2 reports a false -Wrestrict for that.
      if (i) s += ',';
      s += core::json_string(list[i]);
    }
    return raw(key, s + "]");
  }
  JsonObject& add(std::string_view key, const JsonObject& o) { return raw(key, o.str()); }
  JsonObject& add_null(std::string_view key) { return raw(key, "null"); }
  // `json` is already a JSON value (an array of objects, say).
  JsonObject& raw(std::string_view key, std::string_view json) {
    members_.push_back(core::json_string(key) + ":" + std::string(json));
    return *this;
  }
  bool empty() const { return members_.empty(); }

  std::string str() const {
    std::string s = "{";
    for (size_t i = 0; i < members_.size(); ++i) {
      if (i) s += ',';
      s += members_[i];
    }
    return s + "}";
  }

 private:
  std::vector<std::string> members_;
};

inline std::string json_array(const std::vector<JsonObject>& items) {
  std::string s = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) s += ',';
    s += items[i].str();
  }
  return s + "]";
}

}  // namespace turnpike::probe
