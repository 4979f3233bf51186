#include "core/json_value.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace turnpike::core {

const JsonValue* JsonValue::get(const std::string& key) const {
  if (kind_ != Kind::Object) return nullptr;
  auto it = object_.find(key);
  return it == object_.end() ? nullptr : &it->second;
}

std::optional<std::string> JsonValue::get_string(const std::string& key) const {
  const JsonValue* v = get(key);
  if (!v || v->kind_ != Kind::String) return std::nullopt;
  return v->string_;
}

std::optional<double> JsonValue::get_number(const std::string& key) const {
  const JsonValue* v = get(key);
  if (!v || v->kind_ != Kind::Number) return std::nullopt;
  return v->number_;
}

class JsonParser {
 public:
  JsonParser(std::string_view t, const JsonValue::Limits& l) : t_(t), l_(l) {}

  std::optional<JsonValue> run(std::string* error) {
    JsonValue v;
    if (t_.size() > l_.max_bytes) return fail(error, "more than " + std::to_string(l_.max_bytes) + " bytes");
    space();
    if (!value(v, 0)) return fail(error, why_);
    space();
    if (pos_ != t_.size()) return fail(error, "text after the value");
    return v;
  }

 private:
  std::optional<JsonValue> fail(std::string* error, const std::string& why) {
    if (error) *error = "at byte " + std::to_string(pos_) + ": " + why;
    return std::nullopt;
  }
  bool bad(const char* why) {
    why_ = why;
    return false;
  }
  void space() {
    while (pos_ < t_.size() &&
           (t_[pos_] == ' ' || t_[pos_] == '\t' || t_[pos_] == '\n' || t_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool literal(const char* word) {
    const size_t n = std::strlen(word);
    if (t_.substr(pos_, n) != word) return bad("not a JSON value");
    pos_ += n;
    return true;
  }

  bool value(JsonValue& v, size_t depth) {
    if (++count_ > l_.max_values) return bad("too many values");
    if (depth > l_.max_depth) return bad("nested too deep");
    if (pos_ >= t_.size()) return bad("the text ends where a value should be");
    const char c = t_[pos_];
    if (c == '{') return object(v, depth);
    if (c == '[') return array(v, depth);
    if (c == '"') {
      v.kind_ = JsonValue::Kind::String;
      return string(v.string_);
    }
    if (c == 't') {
      v.kind_ = JsonValue::Kind::Bool;
      v.bool_ = true;
      return literal("true");
    }
    if (c == 'f') {
      v.kind_ = JsonValue::Kind::Bool;
      return literal("false");
    }
    if (c == 'n') return literal("null");
    return number(v);
  }

  // RFC 8259 §6: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
  bool number(JsonValue& v) {
    const size_t start = pos_;
    const auto digits = [&] {
      const size_t s = pos_;
      while (pos_ < t_.size() && t_[pos_] >= '0' && t_[pos_] <= '9') ++pos_;
      return pos_ > s;
    };
    if (pos_ < t_.size() && t_[pos_] == '-') ++pos_;
    if (pos_ < t_.size() && t_[pos_] == '0') {
      ++pos_;
    } else if (!digits()) {
      return bad("not a JSON value");
    }
    if (pos_ < t_.size() && t_[pos_] == '.') {
      ++pos_;
      if (!digits()) return bad("a digit must follow '.'");
    }
    if (pos_ < t_.size() && (t_[pos_] == 'e' || t_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < t_.size() && (t_[pos_] == '+' || t_[pos_] == '-')) ++pos_;
      if (!digits()) return bad("a digit must follow the exponent");
    }
    if (pos_ - start > 40) return bad("a number longer than 40 characters");
    v.kind_ = JsonValue::Kind::Number;
    v.number_ = std::strtod(std::string(t_.substr(start, pos_ - start)).c_str(), nullptr);
    return true;
  }

  static void utf8(uint32_t cp, std::string& out) {
    if (cp < 0x80) {
      out += char(cp);
    } else if (cp < 0x800) {
      out += char(0xC0 | (cp >> 6));
      out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += char(0xE0 | (cp >> 12));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    } else {
      out += char(0xF0 | (cp >> 18));
      out += char(0x80 | ((cp >> 12) & 0x3F));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    }
  }

  bool hex4(uint32_t* out) {
    if (pos_ + 4 > t_.size()) return bad("a \\u escape needs four hex digits");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = t_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= uint32_t(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v |= uint32_t(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v |= uint32_t(c - 'A' + 10);
      } else {
        return bad("a \\u escape needs four hex digits");
      }
    }
    *out = v;
    return true;
  }

  bool string(std::string& out) {
    ++pos_;  // the opening quote
    while (pos_ < t_.size()) {
      const unsigned char c = static_cast<unsigned char>(t_[pos_++]);
      if (c == '"') return true;
      if (c < 0x20) return bad("a control character in a string");
      if (c != '\\') {
        out += char(c);
        continue;
      }
      if (pos_ >= t_.size()) break;
      const char e = t_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = 0;
          if (!hex4(&cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {  // a surrogate pair (RFC 8259 §7)
            uint32_t low = 0;
            if (t_.substr(pos_, 2) != "\\u") return bad("a lone surrogate");
            pos_ += 2;
            if (!hex4(&low) || low < 0xDC00 || low > 0xDFFF) return bad("a lone surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return bad("a lone surrogate");
          }
          utf8(cp, out);
          break;
        }
        default:
          return bad("an unknown escape");
      }
    }
    return bad("a string without its closing quote");
  }

  bool array(JsonValue& v, size_t depth) {
    v.kind_ = JsonValue::Kind::Array;
    ++pos_;
    space();
    if (pos_ < t_.size() && t_[pos_] == ']') {
      ++pos_;
      return true;
    }
    for (;;) {
      JsonValue item;
      space();
      if (!value(item, depth + 1)) return false;
      v.array_.push_back(std::move(item));
      space();
      if (pos_ >= t_.size()) return bad("an array without its ']'");
      if (t_[pos_] == ']') {
        ++pos_;
        return true;
      }
      if (t_[pos_++] != ',') return bad("',' or ']' expected");
    }
  }

  bool object(JsonValue& v, size_t depth) {
    v.kind_ = JsonValue::Kind::Object;
    ++pos_;
    space();
    if (pos_ < t_.size() && t_[pos_] == '}') {
      ++pos_;
      return true;
    }
    for (;;) {
      space();
      if (pos_ >= t_.size() || t_[pos_] != '"') return bad("a member name expected");
      std::string key;
      if (!string(key)) return false;
      space();
      if (pos_ >= t_.size() || t_[pos_++] != ':') return bad("':' expected");
      space();
      JsonValue member;
      if (!value(member, depth + 1)) return false;
      v.object_[std::move(key)] = std::move(member);
      space();
      if (pos_ >= t_.size()) return bad("an object without its '}'");
      if (t_[pos_] == '}') {
        ++pos_;
        return true;
      }
      if (t_[pos_++] != ',') return bad("',' or '}' expected");
    }
  }

  std::string_view t_;
  JsonValue::Limits l_;
  size_t pos_ = 0;
  size_t count_ = 0;
  std::string why_;
};

std::optional<JsonValue> JsonValue::parse(std::string_view text, std::string* error,
                                          const Limits& limits) {
  return JsonParser(text, limits).run(error);
}

}  // namespace turnpike::core
