// A small JSON reader (RFC 8259) for what browsers send the check page: the whole text parsed
// into a tree, with hard caps on size, depth and count so that a stranger's body cannot make it
// work hard; anything outside the grammar is refused, never guessed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace turnpike::core {

class JsonValue {
 public:
  enum class Kind : uint8_t { Null, Bool, Number, String, Array, Object };

  Kind kind() const { return kind_; }
  bool is(Kind k) const { return kind_ == k; }
  bool boolean() const { return bool_; }
  double number() const { return number_; }
  const std::string& string() const { return string_; }  // UTF-8, escapes resolved
  const std::vector<JsonValue>& array() const { return array_; }
  // A member of an object, or nullptr (also when this is not an object).
  const JsonValue* get(const std::string& key) const;
  // Convenience: the member as a string / number when it is one.
  std::optional<std::string> get_string(const std::string& key) const;
  std::optional<double> get_number(const std::string& key) const;

  struct Limits {
    size_t max_bytes = 16 * 1024;
    size_t max_depth = 8;
    size_t max_values = 2000;
  };
  // std::nullopt with `error` ("at byte 17: ...") for anything that is not one JSON value.
  static std::optional<JsonValue> parse(std::string_view text, std::string* error,
                                        const Limits& limits);
  static std::optional<JsonValue> parse(std::string_view text, std::string* error) {
    return parse(text, error, Limits{});
  }

 private:
  friend class JsonParser;
  Kind kind_ = Kind::Null;
  bool bool_ = false;
  double number_ = 0;
  std::string string_;
  std::vector<JsonValue> array_;
  std::map<std::string, JsonValue> object_;  // a repeated key: the last one wins
};

}  // namespace turnpike::core
