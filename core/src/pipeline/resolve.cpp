// Pipeline resolution: inputs, ${...} interpolation, option validation.
#include <progcap/core/logging.hpp>
#include <progcap/core/pipeline.hpp>
#include <progcap/core/text.hpp>

#include <progcap/sdk/codec.hpp>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <regex>
#include <set>

namespace progcap::core {

progcap_value ConfigValue::view() const {
  progcap_value v{type, 0, {}};
  switch (type) {
    case PROGCAP_TYPE_BOOL: v.v.b = b ? 1 : 0; break;
    case PROGCAP_TYPE_INT64:
    case PROGCAP_TYPE_TIMESTAMP: v.v.i64 = i; break;
    case PROGCAP_TYPE_DOUBLE: v.v.f64 = d; break;
    case PROGCAP_TYPE_STRING:
    case PROGCAP_TYPE_JSON: v.v.str = progcap_str{s.data(), s.size()}; break;
    default: break;
  }
  return v;
}

std::string ConfigValue::display() const {
  switch (type) {
    case PROGCAP_TYPE_BOOL: return b ? "true" : "false";
    case PROGCAP_TYPE_INT64: return std::to_string(i);
    case PROGCAP_TYPE_DOUBLE: return std::to_string(d);
    case PROGCAP_TYPE_STRING:
    case PROGCAP_TYPE_JSON: return s;
    default: return "null";
  }
}

namespace {

const char* kind_name(Value::Kind k) {
  switch (k) {
    case Value::Kind::Null: return "null";
    case Value::Kind::Scalar: return "a scalar";
    case Value::Kind::List: return "a list";
    case Value::Kind::Map: return "a mapping";
  }
  return "?";
}

bool parse_int(const std::string& s, int64_t& out) {
  static const std::regex re(R"(^\s*[-+]?[0-9]+\s*$)");
  if (!std::regex_match(s, re)) return false;
  try {
    out = std::stoll(s);
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

bool parse_double(const std::string& s, double& out) {
  static const std::regex re(R"(^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$)");
  if (!std::regex_match(s, re)) return false;
  out = std::stod(s);
  return true;
}

bool parse_bool(const std::string& s, bool& out) {
  if (s == "true" || s == "True" || s == "TRUE") {
    out = true;
    return true;
  }
  if (s == "false" || s == "False" || s == "FALSE") {
    out = false;
    return true;
  }
  return false;
}

Value scalar(std::string s, Location where) {
  Value v;
  v.kind = Value::Kind::Scalar;
  v.scalar = std::move(s);
  v.where = std::move(where);
  return v;
}

/// Text of a value for embedding in a longer string.
std::string text_of(const Value& v) {
  switch (v.kind) {
    case Value::Kind::Scalar: return v.scalar;
    case Value::Kind::List: {
      std::vector<std::string> parts;
      for (const auto& i : v.items) parts.push_back(text_of(i));
      return text::join(parts, ",");
    }
    case Value::Kind::Null: return "";
    case Value::Kind::Map: return v.to_json();
  }
  return "";
}

struct Scope {
  const PipelineSpec* spec = nullptr;
  std::map<std::string, Value> inputs;
  std::set<std::string> deferred_inputs;
  ResolveMode mode = ResolveMode::Run;
};

/// Resolves one reference (`inputs.x`, `env.X`, `env.X:-default`).
/// Returns nullopt after reporting an error; a Value with deferred=true when
/// it cannot be known yet (validate mode).
std::optional<Value> lookup(const std::string& ref, const Location& where, const Scope& scope, Diagnostics& diags) {
  if (text::starts_with(ref, "inputs.")) {
    const std::string name = ref.substr(7);
    auto it = scope.inputs.find(name);
    if (it == scope.inputs.end()) {
      if (scope.spec == nullptr) {
        diags.add(where, "${" + ref + "}: only ${env.NAME} references are allowed here");
        return std::nullopt;
      }
      std::vector<std::string> names;
      for (const auto& i : scope.spec->inputs) names.push_back(i.name);
      diags.add(where, "${" + ref + "} refers to an undeclared input '" + name + "'" + text::did_you_mean(name, names) +
                           (names.empty() ? "; the pipeline declares no inputs" : "; declared: " + text::join(names)));
      return std::nullopt;
    }
    Value v = it->second;
    v.where = where;
    if (scope.deferred_inputs.count(name) != 0) v.deferred = true;
    return v;
  }
  if (text::starts_with(ref, "env.")) {
    std::string name = ref.substr(4);
    std::optional<std::string> fallback;
    if (const size_t p = name.find(":-"); p != std::string::npos) {
      fallback = name.substr(p + 2);
      name = name.substr(0, p);
    }
    static const std::regex env_re(R"(^[A-Za-z_][A-Za-z0-9_]*$)");
    if (!std::regex_match(name, env_re)) {
      diags.add(where, "${" + ref + "}: '" + name + "' is not a valid environment variable name");
      return std::nullopt;
    }
    if (const char* val = std::getenv(name.c_str()); val != nullptr) return scalar(val, where);
    if (fallback) return scalar(*fallback, where);
    if (scope.mode == ResolveMode::Validate) {
      Value v = scalar("", where);
      v.deferred = true;
      return v;
    }
    diags.add(where, "environment variable " + name + " is not set (referenced as ${" + ref + "}); export it, or write ${env." +
                         name + ":-default} to make it optional");
    return std::nullopt;
  }
  diags.add(where, "unknown reference ${" + ref + "}: use ${inputs.NAME} or ${env.NAME} (write $${ for a literal ${)");
  return std::nullopt;
}

Value interpolate(const Value& v, const Scope& scope, Diagnostics& diags) {
  if (v.kind == Value::Kind::List) {
    Value out = v;
    out.items.clear();
    for (const auto& i : v.items) out.items.push_back(interpolate(i, scope, diags));
    return out;
  }
  if (v.kind == Value::Kind::Map) {
    Value out = v;
    for (auto& e : out.entries) e.value = interpolate(e.value, scope, diags);
    return out;
  }
  if (v.kind != Value::Kind::Scalar || v.scalar.find('$') == std::string::npos) return v;
  const std::string& s = v.scalar;
  // A scalar that is exactly one reference keeps the referenced value's type.
  static const std::regex whole(R"(^\$\{([^}]*)\}$)");
  std::smatch m;
  if (std::regex_match(s, m, whole)) {
    auto r = lookup(std::string(text::trim(m[1].str())), v.where, scope, diags);
    if (!r) {
      Value bad = v;
      bad.deferred = true;  // already reported
      return bad;
    }
    return *r;
  }
  std::string out;
  bool deferred = false;
  bool failed = false;
  for (size_t i = 0; i < s.size();) {
    if (s.compare(i, 3, "$${") == 0) {
      out += "${";
      i += 3;
      continue;
    }
    if (s.compare(i, 2, "${") == 0) {
      const size_t close = s.find('}', i + 2);
      if (close == std::string::npos) {
        diags.add(v.where, "unterminated ${ in '" + s + "'");
        failed = true;
        break;
      }
      const std::string ref(text::trim(std::string_view(s).substr(i + 2, close - i - 2)));
      auto r = lookup(ref, v.where, scope, diags);
      if (!r) {
        failed = true;
      } else if (r->deferred) {
        deferred = true;
      } else if (r->kind == Value::Kind::Null) {
        diags.add(v.where, "${" + ref + "} has no value (the input is optional and was not given) and is used inside text");
        failed = true;
      } else {
        out += text_of(*r);
      }
      i = close + 1;
      continue;
    }
    out += s[i++];
  }
  Value res = scalar(out, v.where);
  res.quoted = true;  // interpolated text is a string unless the option type says otherwise
  res.deferred = deferred || failed;
  return res;
}

/// Parses a --set value according to the input's type.
Value parse_override(const InputSpec& in, const std::string& raw, const Location& where) {
  if (in.type != "list") return scalar(raw, where);
  Value list;
  list.kind = Value::Kind::List;
  list.where = where;
  const std::string t(text::trim(raw));
  if (t.empty()) return list;
  if (t.front() == '[') {
    try {
      YAML::Node n = YAML::Load(t);
      for (const auto& item : n) list.items.push_back(scalar(item.Scalar(), where));
      return list;
    } catch (const std::exception&) {
      // fall through to comma splitting
    }
  }
  for (const auto& part : text::split(t, ',')) list.items.push_back(scalar(std::string(text::trim(part)), where));
  return list;
}

/// Validates an input value against its declaration.
void check_input(const InputSpec& in, const Value& v, Diagnostics& diags) {
  if (v.deferred || v.kind == Value::Kind::Null) return;
  const std::string what = "input '" + in.name + "'";
  auto check_scalar = [&](const Value& s, const std::string& label) {
    if (s.kind != Value::Kind::Scalar) {
      diags.add(s.where, label + " must be a single value, found " + kind_name(s.kind));
      return;
    }
    const std::string& x = s.scalar;
    if (in.type == "int") {
      int64_t n = 0;
      if (!parse_int(x, n)) {
        diags.add(s.where, label + " must be an integer, found '" + x + "'");
        return;
      }
      if (in.min && n < *in.min) diags.add(s.where, label + " must be >= " + std::to_string(*in.min) + ", found " + x);
      if (in.max && n > *in.max) diags.add(s.where, label + " must be <= " + std::to_string(*in.max) + ", found " + x);
    } else if (in.type == "number") {
      double d = 0;
      if (!parse_double(x, d)) diags.add(s.where, label + " must be a number, found '" + x + "'");
    } else if (in.type == "bool") {
      bool b = false;
      if (!parse_bool(x, b)) diags.add(s.where, label + " must be true or false, found '" + x + "'");
    }
    if (!in.pattern.empty() && (in.type == "string" || in.type == "list")) {
      if (!std::regex_match(x, std::regex(in.pattern))) {
        diags.add(s.where, label + " '" + x + "' does not match the pattern " + in.pattern +
                               (in.description.empty() ? "" : " (" + in.description + ")"));
      }
    }
    if (!in.allowed.empty() && std::find(in.allowed.begin(), in.allowed.end(), x) == in.allowed.end()) {
      diags.add(s.where, label + " '" + x + "' is not one of " + text::join(in.allowed) + text::did_you_mean(x, in.allowed));
    }
  };
  if (in.type == "list") {
    if (v.kind == Value::Kind::Scalar) {
      diags.add(v.where, what + " must be a list");
      return;
    }
    if (v.kind != Value::Kind::List) {
      diags.add(v.where, what + " must be a list, found " + kind_name(v.kind));
      return;
    }
    std::set<std::string> seen;
    for (const auto& item : v.items) {
      check_scalar(item, what + " item");
      if (in.unique && item.kind == Value::Kind::Scalar && !seen.insert(item.scalar).second) {
        diags.add(item.where, what + " lists '" + item.scalar + "' more than once");
      }
    }
    return;
  }
  check_scalar(v, what);
}

}  // namespace

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

std::optional<ConfigValue> convert_option(const OptionInfo& opt, const Value& v, Diagnostics& diags) {
  if (v.deferred || v.kind == Value::Kind::Null) return std::nullopt;
  const std::string what = "option '" + opt.name + "'";
  ConfigValue out;
  auto need_scalar = [&]() {
    if (v.kind == Value::Kind::Scalar) return true;
    diags.add(v.where, what + " expects a " + option_type_name(opt.type) + ", found " + kind_name(v.kind));
    return false;
  };
  auto check_string = [&](const std::string& s, const Location& where) {
    if (!opt.pattern.empty() && !std::regex_match(s, std::regex(opt.pattern))) {
      diags.add(where, what + ": '" + s + "' does not match " + opt.pattern + (opt.description.empty() ? "" : " (" + opt.description + ")"));
    }
    if (!opt.allowed.empty() && std::find(opt.allowed.begin(), opt.allowed.end(), s) == opt.allowed.end()) {
      diags.add(where, what + ": '" + s + "' is not one of " + text::join(opt.allowed) + text::did_you_mean(s, opt.allowed));
    }
  };
  auto check_range = [&](int64_t n, const std::string& shown) {
    if (opt.range && (n < opt.range->first || n > opt.range->second)) {
      diags.add(v.where, what + " must be between " + std::to_string(opt.range->first) + " and " +
                             std::to_string(opt.range->second) + ", found " + shown);
    }
  };
  switch (opt.type) {
    case PROGCAP_OPTION_STRING:
      if (!need_scalar()) return std::nullopt;
      out.type = PROGCAP_TYPE_STRING;
      out.s = v.scalar;
      check_string(out.s, v.where);
      break;
    case PROGCAP_OPTION_INT: {
      if (!need_scalar()) return std::nullopt;
      if (!parse_int(v.scalar, out.i)) {
        diags.add(v.where, what + " expects an integer, found '" + v.scalar + "'");
        return std::nullopt;
      }
      out.type = PROGCAP_TYPE_INT64;
      check_range(out.i, v.scalar);
      break;
    }
    case PROGCAP_OPTION_DOUBLE:
      if (!need_scalar()) return std::nullopt;
      if (!parse_double(v.scalar, out.d)) {
        diags.add(v.where, what + " expects a number, found '" + v.scalar + "'");
        return std::nullopt;
      }
      out.type = PROGCAP_TYPE_DOUBLE;
      break;
    case PROGCAP_OPTION_BOOL:
      if (!need_scalar()) return std::nullopt;
      if (!parse_bool(v.scalar, out.b)) {
        diags.add(v.where, what + " expects true or false, found '" + v.scalar + "'");
        return std::nullopt;
      }
      out.type = PROGCAP_TYPE_BOOL;
      break;
    case PROGCAP_OPTION_DURATION: {
      if (!need_scalar()) return std::nullopt;
      long long ms = 0;
      if (!text::parse_duration_ms(v.scalar, ms)) {
        diags.add(v.where, what + " expects a duration such as 500ms, 30s, 10m or 2h, found '" + v.scalar + "'");
        return std::nullopt;
      }
      out.type = PROGCAP_TYPE_INT64;
      out.i = ms;
      check_range(ms, v.scalar);
      break;
    }
    case PROGCAP_OPTION_STRING_LIST: {
      std::vector<std::string> items;
      if (v.kind == Value::Kind::List) {
        for (const auto& item : v.items) {
          if (item.deferred) return std::nullopt;
          if (item.kind != Value::Kind::Scalar) {
            diags.add(item.where, what + " expects a list of strings, found " + std::string(kind_name(item.kind)) + " in it");
            return std::nullopt;
          }
          items.push_back(item.scalar);
        }
      } else if (v.kind == Value::Kind::Scalar) {  // "a,b,c"
        if (!text::trim(v.scalar).empty()) {
          for (const auto& part : text::split(v.scalar, ',')) items.emplace_back(text::trim(part));
        }
      } else {
        diags.add(v.where, what + " expects a list, found " + std::string(kind_name(v.kind)));
        return std::nullopt;
      }
      out.type = PROGCAP_TYPE_JSON;
      out.s = "[";
      for (size_t i = 0; i < items.size(); ++i) {
        check_string(items[i], v.where);
        if (i) out.s += ',';
        sdk::append_json_string(out.s, items[i]);
      }
      out.s += ']';
      break;
    }
    case PROGCAP_OPTION_JSON:
      out.type = PROGCAP_TYPE_JSON;
      out.s = v.to_json();
      break;
    default:
      diags.add(v.where, what + " has an unsupported type");
      return std::nullopt;
  }
  return out;
}

namespace {

Value parse_default(const OptionInfo& opt) {
  Diagnostics ignore;
  try {
    YAML::Node n = YAML::Load(opt.default_value);
    Value v;
    if (n.IsScalar()) {
      v = scalar(n.Scalar(), {});
      v.quoted = n.Tag() == "!";
    } else if (n.IsSequence()) {
      v.kind = Value::Kind::List;
      for (const auto& i : n) v.items.push_back(scalar(i.Scalar(), {}));
    } else if (n.IsMap() || n.IsNull()) {
      // JSON defaults: keep the text as one scalar; to_json() would retype it
      v = scalar(opt.default_value, {});
    }
    return v;
  } catch (const std::exception&) {
    return scalar(opt.default_value, {});
  }
}

ResolvedComponent resolve_component(ComponentKind kind, const ComponentSpec& c, const std::string& step, const Scope& scope,
                                    const PluginRegistry& registry, Diagnostics& diags) {
  ResolvedComponent rc;
  rc.kind = kind;
  rc.type = c.type;
  rc.label = step + "/" + (c.name.empty() ? c.type : c.name);
  rc.where = c.where;
  rc.streams = c.streams;
  if (c.type.empty()) return rc;
  rc.info = registry.find(kind, c.type);
  if (!rc.info) {
    diags.add(c.where, "step '" + step + "': " + registry.why_unavailable(kind, c.type));
    return rc;
  }
  const ComponentInfo& info = *rc.info;
  Value opts = interpolate(c.options, scope, diags);
  std::vector<std::string> allowed;
  for (const auto& o : info.options) allowed.push_back(o.name);
  for (const auto& e : opts.entries) {
    if (info.option(e.key) == nullptr) {
      diags.add(e.key_where, std::string(to_string(kind)) + " '" + c.type + "' has no option '" + e.key + "'" +
                                 text::did_you_mean(e.key, allowed) +
                                 (allowed.empty() ? "; it takes no options" : "; allowed: " + text::join(allowed)));
    }
  }
  for (const auto& o : info.options) {
    const Value* given = opts.get(o.name);
    std::optional<ConfigValue> value;
    bool deferred = false;
    if (given != nullptr) {
      deferred = given->deferred;  // unknown until run time (validate mode)
      if (given->kind != Value::Kind::Null) value = convert_option(o, *given, diags);
    }
    if (!value && !deferred && !o.default_value.empty()) {
      Diagnostics dd;
      value = convert_option(o, parse_default(o), dd);
      if (!dd.empty()) {
        diags.add(c.where, "plugin " + info.plugin_name + ": the default of option '" + o.name + "' is invalid: " + dd.items().front().message);
      }
    }
    if (!value && !deferred && o.required) {
      diags.add(c.where, std::string(to_string(kind)) + " '" + c.type + "' needs option '" + o.name + "'" +
                             (o.description.empty() ? "" : " (" + o.description + ")"));
    }
    if (value) {
      if (o.secret) Redactor::instance().add(value->s);
      rc.options.emplace_back(o.name, std::move(*value));
    }
  }
  return rc;
}

/// Evaluates a sink's `when:` after interpolation: `true`, `false`,
/// `A == B` or `A != B` (sides trimmed, optional quotes removed). nullopt
/// when it cannot be decided yet (validate mode) or is malformed (reported).
std::optional<bool> evaluate_when(const Value& when, const Scope& scope, Diagnostics& diags) {
  Value v = interpolate(when, scope, diags);
  if (v.deferred) return std::nullopt;
  auto unquote = [](const std::string& raw) {
    std::string x(text::trim(raw));
    if (x.size() >= 2 && (x.front() == '"' || x.front() == '\'') && x.back() == x.front()) x = x.substr(1, x.size() - 2);
    return x;
  };
  const std::string t(text::trim(v.scalar));
  if (t == "true") return true;
  if (t == "false") return false;
  for (const char* op : {"==", "!="}) {
    const size_t at = t.find(op);
    if (at != std::string::npos && t.find(op, at + 2) == std::string::npos) {
      const bool eq = unquote(t.substr(0, at)) == unquote(t.substr(at + 2));
      return std::string_view(op) == "==" ? eq : !eq;
    }
  }
  diags.add(when.where, "when: expected true, false, 'A == B' or 'A != B' (after ${...} substitution), got '" + t + "'");
  return std::nullopt;
}

}  // namespace

Value interpolate_env(const Value& v, Diagnostics& diags) {
  Scope scope;
  return interpolate(v, scope, diags);
}

ResolvedPipeline resolve_pipeline(const PipelineSpec& spec, const PluginRegistry& registry, const ResolveOptions& opts) {
  Diagnostics diags;
  Scope scope;
  scope.spec = &spec;
  scope.mode = opts.mode;

  // Inputs: --set values, then defaults, then required checks.
  std::map<std::string, std::string> given;
  std::vector<std::string> declared;
  for (const auto& in : spec.inputs) declared.push_back(in.name);
  for (const auto& [k, v] : opts.overrides) {
    if (spec.input(k) == nullptr) {
      diags.add(Location{spec.file.string(), 0, 0},
                "--set " + k + ": the pipeline '" + spec.name + "' has no input '" + k + "'" + text::did_you_mean(k, declared) +
                    (declared.empty() ? "; it declares no inputs" : "; declared: " + text::join(declared)));
      continue;
    }
    given[k] = v;
  }
  ResolvedPipeline out;
  for (const auto& in : spec.inputs) {
    Value v;
    v.where = in.where;
    if (auto it = given.find(in.name); it != given.end()) {
      v = parse_override(in, it->second, in.where);
    } else if (in.default_value) {
      v = interpolate(*in.default_value, scope, diags);
    } else if (in.required) {
      if (opts.mode == ResolveMode::Validate) {
        scope.deferred_inputs.insert(in.name);
        v.deferred = true;
      } else {
        diags.add(in.where, "missing required input '" + in.name + "'" + (in.description.empty() ? "" : " (" + in.description + ")") +
                                "; pass --set " + in.name + "=VALUE");
      }
    }
    check_input(in, v, diags);
    if (in.secret && v.kind == Value::Kind::Scalar) Redactor::instance().add(v.scalar);
    out.inputs.emplace_back(in.name, v.deferred ? "<deferred>" : in.secret ? "***" : text_of(v));
    scope.inputs[in.name] = std::move(v);
  }

  out.name = spec.name;
  out.description = spec.description;
  out.file = spec.file;
  out.timeout = spec.timeout;
  out.max_dead_letters = spec.max_dead_letters;
  out.groups = spec.groups;
  for (const auto& s : spec.steps) {
    ResolvedStep rs;
    rs.name = s.name;
    rs.group = s.group;
    rs.timeout = s.timeout;
    rs.retry = s.retry;
    rs.batch_size = s.batch_size;
    rs.queue_capacity = s.queue_capacity;
    rs.batch_timeout = s.batch_timeout;
    rs.where = s.where;
    rs.source = resolve_component(ComponentKind::Source, s.source, s.name, scope, registry, diags);
    for (const auto& t : s.transforms) rs.transforms.push_back(resolve_component(ComponentKind::Transform, t, s.name, scope, registry, diags));
    if (opts.dry_run_out) {
      // Every sink becomes the NDJSON sink: one file per stream.
      auto nd = registry.find(ComponentKind::Sink, "ndjson");
      if (!nd) {
        diags.add(s.where, "--dry-run needs the ndjson sink: " + registry.why_unavailable(ComponentKind::Sink, "ndjson"));
      } else {
        ResolvedComponent rc;
        rc.kind = ComponentKind::Sink;
        rc.type = "ndjson";
        rc.label = s.name + "/dry-run";
        rc.info = nd;
        rc.where = s.where;
        std::filesystem::path dir = *opts.dry_run_out;
        if (spec.steps.size() > 1) dir /= s.name;
        Value opt_dir = scalar(dir.string(), s.where);
        opt_dir.quoted = true;
        Value mode = scalar("replace", s.where);
        for (const auto& o : nd->options) {
          std::optional<ConfigValue> v;
          if (o.name == "directory") v = convert_option(o, opt_dir, diags);
          if (o.name == "mode") v = convert_option(o, mode, diags);
          if (!v && !o.default_value.empty()) {
            Diagnostics dd;
            v = convert_option(o, parse_default(o), dd);
          }
          if (v) rc.options.emplace_back(o.name, std::move(*v));
        }
        rs.sinks.push_back(std::move(rc));
      }
    } else {
      for (const auto& k : s.sinks) {
        if (k.when) {
          const auto on = evaluate_when(*k.when, scope, diags);
          if (on.has_value() && !*on) continue;  // switched off: its options are not needed
        }
        rs.sinks.push_back(resolve_component(ComponentKind::Sink, k, s.name, scope, registry, diags));
      }
      if (rs.sinks.empty() && !s.sinks.empty()) {
        diags.add(s.where, "step '" + s.name + "': every sink is switched off by its `when:`; nothing would receive the data");
      }
    }
    // Sink stream filters must name streams the source (or a transform) declares.
    if (rs.source.info && rs.transforms.empty()) {
      std::vector<std::string> names;
      for (const auto& st : rs.source.info->streams) names.push_back(st->name);
      for (const auto& k : s.sinks) {
        for (const auto& st : k.streams) {
          if (std::find(names.begin(), names.end(), st) == names.end()) {
            diags.add(k.where, "sink '" + k.type + "': source '" + s.source.type + "' has no stream '" + st + "'" +
                                   text::did_you_mean(st, names) + "; it emits: " + text::join(names));
          }
        }
      }
    }
    out.steps.push_back(std::move(rs));
  }
  diags.throw_if_any();
  return out;
}

}  // namespace progcap::core
