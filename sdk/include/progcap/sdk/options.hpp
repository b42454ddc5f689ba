// progcap C++ SDK — typed option declarations and validated config access.
//
//   static inline const auto kPath = sdk::option<std::string>("path")
//       .required().describe("file to write");
//   static inline const auto kLimit = sdk::option<int64_t>("limit")
//       .default_value(100).range(1, 10000).describe("rows per batch");
//   static sdk::OptionList options() { return {kPath, kLimit}; }
//   ... in the constructor:  cfg.get(kLimit)  -> int64_t
//
// The host validates pipeline values against these declarations (types,
// required, pattern, allowed values, range, unknown keys) and applies defaults
// before `create`, so get() only fails on programming errors.
#pragma once

#include <progcap/abi/progcap_plugin.h>
#include <progcap/sdk/status.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace progcap::sdk {

/// Marker type for free-form JSON options.
struct JsonText {
  std::string text;
};

namespace detail {

/// One option as the ABI sees it, owning its strings.
struct OptionSpec {
  std::string name;
  std::string description;
  std::string default_value;  // YAML/JSON text
  std::string pattern;
  std::string allowed;
  progcap_option_type type = PROGCAP_OPTION_STRING;
  uint32_t flags = 0;
  int64_t min_value = 0;
  int64_t max_value = 0;
  bool has_range = false;
  mutable progcap_option_def abi{};

  const progcap_option_def* to_abi_def() const {
    abi = progcap_option_def{};
    abi.struct_size = sizeof(progcap_option_def);
    abi.type = type;
    abi.name = to_abi(name);
    abi.description = to_abi(description);
    abi.flags = flags;
    abi.default_value = to_abi(default_value);
    abi.pattern = to_abi(pattern);
    abi.allowed = to_abi(allowed);
    abi.min_value = min_value;
    abi.max_value = max_value;
    abi.has_range = has_range ? 1 : 0;
    return &abi;
  }
};

inline std::string json_quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          static const char* hex = "0123456789abcdef";
          out += "\\u00";
          out += hex[(c >> 4) & 0xF];
          out += hex[c & 0xF];
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

template <class T>
struct OptionTraits;
template <>
struct OptionTraits<std::string> {
  static constexpr progcap_option_type kType = PROGCAP_OPTION_STRING;
  static std::string render(const std::string& v) { return json_quote(v); }
};
template <>
struct OptionTraits<int64_t> {
  static constexpr progcap_option_type kType = PROGCAP_OPTION_INT;
  static std::string render(int64_t v) { return std::to_string(v); }
};
template <>
struct OptionTraits<double> {
  static constexpr progcap_option_type kType = PROGCAP_OPTION_DOUBLE;
  static std::string render(double v) { return std::to_string(v); }
};
template <>
struct OptionTraits<bool> {
  static constexpr progcap_option_type kType = PROGCAP_OPTION_BOOL;
  static std::string render(bool v) { return v ? "true" : "false"; }
};
template <>
struct OptionTraits<std::vector<std::string>> {
  static constexpr progcap_option_type kType = PROGCAP_OPTION_STRING_LIST;
  static std::string render(const std::vector<std::string>& v) {
    std::string out = "[";
    for (size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + json_quote(v[i]);
    return out + "]";
  }
};
template <>
struct OptionTraits<std::chrono::milliseconds> {
  static constexpr progcap_option_type kType = PROGCAP_OPTION_DURATION;
  static std::string render(std::chrono::milliseconds v) { return std::to_string(v.count()) + "ms"; }
};
template <>
struct OptionTraits<JsonText> {
  static constexpr progcap_option_type kType = PROGCAP_OPTION_JSON;
  static std::string render(const JsonText& v) { return v.text; }
};

}  // namespace detail

/// A typed option declaration. Copyable; the spec is shared.
template <class T>
class Option {
 public:
  explicit Option(std::string name) : spec_(std::make_shared<detail::OptionSpec>()) {
    spec_->name = std::move(name);
    spec_->type = detail::OptionTraits<T>::kType;
  }
  Option& describe(std::string text) { spec_->description = std::move(text); return *this; }
  Option& required() { spec_->flags |= PROGCAP_OPTION_REQUIRED; return *this; }
  Option& secret() { spec_->flags |= PROGCAP_OPTION_SECRET; return *this; }
  Option& default_value(const T& v) { spec_->default_value = detail::OptionTraits<T>::render(v); return *this; }
  /// String options: ECMAScript regex the whole value must match.
  Option& pattern(std::string re) { spec_->pattern = std::move(re); return *this; }
  /// String options: allowed values, e.g. {"replace", "append"}.
  Option& one_of(std::initializer_list<std::string_view> values) {
    spec_->allowed.clear();
    for (auto v : values) {
      if (!spec_->allowed.empty()) spec_->allowed += '|';
      spec_->allowed += v;
    }
    return *this;
  }
  /// Int and duration (ms) options: inclusive bounds.
  Option& range(int64_t lo, int64_t hi) {
    spec_->min_value = lo;
    spec_->max_value = hi;
    spec_->has_range = true;
    return *this;
  }
  [[nodiscard]] const std::string& name() const noexcept { return spec_->name; }
  [[nodiscard]] std::shared_ptr<const detail::OptionSpec> spec() const noexcept { return spec_; }

 private:
  std::shared_ptr<detail::OptionSpec> spec_;
};

template <class T>
Option<T> option(std::string name) {
  return Option<T>(std::move(name));
}

/// Type-erased list of a component's options.
class OptionList {
 public:
  OptionList() = default;
  template <class... Ts>
  OptionList(const Option<Ts>&... opts) {  // NOLINT(google-explicit-constructor): brace-init list
    (specs_.push_back(opts.spec()), ...);
  }
  [[nodiscard]] const std::vector<std::shared_ptr<const detail::OptionSpec>>& specs() const noexcept { return specs_; }

 private:
  std::vector<std::shared_ptr<const detail::OptionSpec>> specs_;
};

/// Validated configuration given to a component's constructor. Only valid
/// during construction: copy values into members.
class Config {
 public:
  explicit Config(const progcap_config* cfg) noexcept : cfg_(cfg) {}

  [[nodiscard]] bool has(std::string_view name) const noexcept { return find(name) != nullptr; }

  template <class T>
  [[nodiscard]] T get(const Option<T>& opt) const {
    auto v = get_optional(opt);
    if (!v) throw ConfigError("option '" + opt.name() + "' is not set");
    return *v;
  }

  template <class T>
  [[nodiscard]] std::optional<T> get_optional(const Option<T>& opt) const {
    const progcap_value* v = find(opt.name());
    if (v == nullptr || v->type == PROGCAP_TYPE_NULL) return std::nullopt;
    return convert<T>(opt.name(), *v);
  }

  /// Raw access by name (for generic plugins).
  [[nodiscard]] const progcap_value* find(std::string_view name) const noexcept {
    if (cfg_ == nullptr) return nullptr;
    for (uint32_t i = 0; i < cfg_->count; ++i) {
      if (from_abi(cfg_->names[i]) == name) return &cfg_->values[i];
    }
    return nullptr;
  }

 private:
  template <class T>
  static T convert(const std::string& name, const progcap_value& v) {
    auto mismatch = [&]() { return ConfigError("option '" + name + "' has an unexpected type"); };
    if constexpr (std::is_same_v<T, std::string>) {
      if (v.type != PROGCAP_TYPE_STRING) throw mismatch();
      return std::string(from_abi(v.v.str));
    } else if constexpr (std::is_same_v<T, int64_t>) {
      if (v.type != PROGCAP_TYPE_INT64) throw mismatch();
      return v.v.i64;
    } else if constexpr (std::is_same_v<T, double>) {
      if (v.type == PROGCAP_TYPE_INT64) return static_cast<double>(v.v.i64);
      if (v.type != PROGCAP_TYPE_DOUBLE) throw mismatch();
      return v.v.f64;
    } else if constexpr (std::is_same_v<T, bool>) {
      if (v.type != PROGCAP_TYPE_BOOL) throw mismatch();
      return v.v.b != 0;
    } else if constexpr (std::is_same_v<T, std::chrono::milliseconds>) {
      if (v.type != PROGCAP_TYPE_INT64) throw mismatch();
      return std::chrono::milliseconds(v.v.i64);
    } else if constexpr (std::is_same_v<T, JsonText>) {
      if (v.type != PROGCAP_TYPE_JSON) throw mismatch();
      return JsonText{std::string(from_abi(v.v.str))};
    } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
      if (v.type != PROGCAP_TYPE_JSON) throw mismatch();
      return parse_string_array(name, from_abi(v.v.str));
    } else {
      static_assert(sizeof(T) == 0, "unsupported option type");
    }
  }

  // The host always delivers lists as a compact JSON array of strings.
  static std::vector<std::string> parse_string_array(const std::string& name, std::string_view json) {
    std::vector<std::string> out;
    size_t i = 0;
    auto fail = [&]() { return ConfigError("option '" + name + "': malformed list"); };
    auto skip_ws = [&]() {
      while (i < json.size() && (json[i] == ' ' || json[i] == '\n' || json[i] == '\t' || json[i] == '\r')) ++i;
    };
    skip_ws();
    if (i >= json.size() || json[i] != '[') throw fail();
    ++i;
    skip_ws();
    if (i < json.size() && json[i] == ']') return out;
    while (i < json.size()) {
      skip_ws();
      if (json[i] != '"') throw fail();
      ++i;
      std::string s;
      while (i < json.size() && json[i] != '"') {
        char c = json[i++];
        if (c == '\\' && i < json.size()) {
          char e = json[i++];
          switch (e) {
            case 'n': s += '\n'; break;
            case 't': s += '\t'; break;
            case 'r': s += '\r'; break;
            case 'b': s += '\b'; break;
            case 'f': s += '\f'; break;
            case 'u': {
              if (i + 4 > json.size()) throw fail();
              unsigned cp = std::stoul(std::string(json.substr(i, 4)), nullptr, 16);
              i += 4;
              if (cp < 0x80) {
                s += static_cast<char>(cp);
              } else if (cp < 0x800) {
                s += static_cast<char>(0xC0 | (cp >> 6));
                s += static_cast<char>(0x80 | (cp & 0x3F));
              } else {
                s += static_cast<char>(0xE0 | (cp >> 12));
                s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
                s += static_cast<char>(0x80 | (cp & 0x3F));
              }
              break;
            }
            default: s += e;
          }
        } else {
          s += c;
        }
      }
      if (i >= json.size()) throw fail();
      ++i;  // closing quote
      out.push_back(std::move(s));
      skip_ws();
      if (i < json.size() && json[i] == ',') { ++i; continue; }
      if (i < json.size() && json[i] == ']') return out;
      throw fail();
    }
    throw fail();
  }

  const progcap_config* cfg_;
};

}  // namespace progcap::sdk
