// Pipeline files: YAML -> Value (with locations) -> PipelineSpec.
#include <progcap/core/pipeline.hpp>
#include <progcap/core/text.hpp>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

namespace fs = std::filesystem;

namespace progcap::core {

// ---------------------------------------------------------------------------
// Value
// ---------------------------------------------------------------------------

const Value* Value::get(std::string_view key) const {
  for (const auto& e : entries) {
    if (e.key == key) return &e.value;
  }
  return nullptr;
}

namespace {

void append_json_str(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

bool is_int(const std::string& s) {
  static const std::regex re(R"(^[-+]?[0-9]+$)");
  return std::regex_match(s, re);
}
bool is_number(const std::string& s) {
  static const std::regex re(R"(^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$)");
  return std::regex_match(s, re);
}

}  // namespace

std::string Value::to_json() const {
  std::string out;
  switch (kind) {
    case Kind::Null: return "null";
    case Kind::Scalar:
      if (!quoted) {
        if (is_int(scalar)) return std::to_string(std::stoll(scalar));
        if (is_number(scalar)) return scalar;
        if (scalar == "true" || scalar == "false") return scalar;
        if (scalar == "null" || scalar == "~") return "null";
      }
      append_json_str(out, scalar);
      return out;
    case Kind::List:
      out = "[";
      for (size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + items[i].to_json();
      return out + "]";
    case Kind::Map:
      out = "{";
      for (size_t i = 0; i < entries.size(); ++i) {
        if (i) out += ',';
        append_json_str(out, entries[i].key);
        out += ':' + entries[i].value.to_json();
      }
      return out + "}";
  }
  return "null";
}

const InputSpec* PipelineSpec::input(std::string_view n) const {
  for (const auto& i : inputs) {
    if (i.name == n) return &i;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------
// YAML -> Value
// ---------------------------------------------------------------------------

namespace {

Location mark_of(const YAML::Mark& m, const std::string& file, const Location& fallback) {
  if (m.line < 0) return fallback;
  return Location{file, m.line + 1, m.column + 1};
}

Value from_yaml(const YAML::Node& n, const std::string& file, const Location& fallback, Diagnostics& diags) {
  Value v;
  v.where = mark_of(n.Mark(), file, fallback);
  switch (n.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null: v.kind = Value::Kind::Null; break;
    case YAML::NodeType::Scalar:
      v.kind = Value::Kind::Scalar;
      v.scalar = n.Scalar();
      v.quoted = n.Tag() == "!";
      break;
    case YAML::NodeType::Sequence:
      v.kind = Value::Kind::List;
      for (const auto& item : n) v.items.push_back(from_yaml(item, file, v.where, diags));
      break;
    case YAML::NodeType::Map: {
      v.kind = Value::Kind::Map;
      std::set<std::string> seen;
      for (const auto& kv : n) {
        Value::Entry e;
        e.key_where = mark_of(kv.first.Mark(), file, v.where);
        if (!kv.first.IsScalar()) {
          diags.add(e.key_where, "mapping keys must be plain strings");
          continue;
        }
        e.key = kv.first.Scalar();
        if (!seen.insert(e.key).second) diags.add(e.key_where, "duplicate key '" + e.key + "'");
        e.value = from_yaml(kv.second, file, e.key_where, diags);
        v.entries.push_back(std::move(e));
      }
      break;
    }
  }
  return v;
}

// ---------------------------------------------------------------------------
// Structure checks
// ---------------------------------------------------------------------------

const std::regex& name_re() {
  static const std::regex re(R"(^[a-z0-9][a-z0-9._-]*$)");
  return re;
}

class Parser {
 public:
  Parser(std::string file, Diagnostics& d) : file_(std::move(file)), diags_(d) {}

  /// Reports keys of `m` that are not in `allowed` (with did-you-mean).
  void check_keys(const Value& m, const std::vector<std::string>& allowed, const std::string& what) {
    for (const auto& e : m.entries) {
      bool ok = false;
      for (const auto& a : allowed) ok = ok || a == e.key;
      if (!ok) {
        diags_.add(e.key_where, "unknown key '" + e.key + "' in " + what + text::did_you_mean(e.key, allowed) +
                                    "; allowed: " + text::join(allowed));
      }
    }
  }

  bool expect(const Value& v, Value::Kind kind, const std::string& what) {
    if (v.kind == kind) return true;
    static const char* names[] = {"null", "a scalar", "a list", "a mapping"};
    diags_.add(v.where, what + " must be " + names[static_cast<int>(kind)] + ", found " + names[static_cast<int>(v.kind)] +
                            (v.kind == Value::Kind::Null ? " (YAML reads null, ~ and empty values as null; quote the text)" : ""));
    return false;
  }

  std::string string_of(const Value& v, const std::string& what) {
    if (!expect(v, Value::Kind::Scalar, what)) return {};
    return v.scalar;
  }

  bool bool_of(const Value& v, const std::string& what, bool& out) {
    const std::string s = string_of(v, what);
    if (s == "true" || s == "True" || s == "TRUE") {
      out = true;
      return true;
    }
    if (s == "false" || s == "False" || s == "FALSE") {
      out = false;
      return true;
    }
    if (v.kind == Value::Kind::Scalar) diags_.add(v.where, what + " must be true or false, found '" + s + "'");
    return false;
  }

  std::optional<int64_t> int_of(const Value& v, const std::string& what, int64_t lo, int64_t hi) {
    const std::string s = string_of(v, what);
    if (v.kind != Value::Kind::Scalar) return std::nullopt;
    if (!is_int(s)) {
      diags_.add(v.where, what + " must be an integer, found '" + s + "'");
      return std::nullopt;
    }
    long long x = 0;
    try {
      x = std::stoll(s);
    } catch (const std::exception&) {
      diags_.add(v.where, what + " is out of range");
      return std::nullopt;
    }
    if (x < lo || x > hi) {
      diags_.add(v.where, what + " must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", found " + s);
      return std::nullopt;
    }
    return x;
  }

  std::optional<std::chrono::milliseconds> duration_of(const Value& v, const std::string& what) {
    const std::string s = string_of(v, what);
    if (v.kind != Value::Kind::Scalar) return std::nullopt;
    long long ms = 0;
    if (!text::parse_duration_ms(s, ms)) {
      diags_.add(v.where, what + " must be a duration such as 500ms, 30s, 10m or 2h, found '" + s + "'");
      return std::nullopt;
    }
    return std::chrono::milliseconds(ms);
  }

  void parse_retry(const Value& v, RetryPolicySpec& r) {
    if (!expect(v, Value::Kind::Map, "retry")) return;
    check_keys(v, {"max_attempts", "initial_backoff", "max_backoff", "multiplier", "jitter"}, "retry");
    if (const Value* x = v.get("max_attempts")) {
      if (auto n = int_of(*x, "retry.max_attempts", 1, 1000)) r.max_attempts = static_cast<unsigned>(*n);
    }
    if (const Value* x = v.get("initial_backoff")) {
      if (auto d = duration_of(*x, "retry.initial_backoff")) r.initial_backoff = *d;
    }
    if (const Value* x = v.get("max_backoff")) {
      if (auto d = duration_of(*x, "retry.max_backoff")) r.max_backoff = *d;
    }
    if (const Value* x = v.get("multiplier")) {
      const std::string s = string_of(*x, "retry.multiplier");
      if (!is_number(s) || std::stod(s) < 1.0) {
        diags_.add(x->where, "retry.multiplier must be a number >= 1");
      } else {
        r.multiplier = std::stod(s);
      }
    }
    if (const Value* x = v.get("jitter")) {
      const std::string s = string_of(*x, "retry.jitter");
      if (!is_number(s) || std::stod(s) < 0 || std::stod(s) > 1) {
        diags_.add(x->where, "retry.jitter must be a number between 0 and 1");
      } else {
        r.jitter = std::stod(s);
      }
    }
  }

  void parse_step_settings(const Value& v, StepSpec& s) {
    if (const Value* x = v.get("timeout")) s.timeout = duration_of(*x, "timeout");
    if (const Value* x = v.get("retry")) parse_retry(*x, s.retry);
    if (const Value* x = v.get("batch_size")) {
      if (auto n = int_of(*x, "batch_size", 1, 1000000)) s.batch_size = static_cast<size_t>(*n);
    }
    if (const Value* x = v.get("queue_capacity")) {
      if (auto n = int_of(*x, "queue_capacity", 1, 10000)) s.queue_capacity = static_cast<size_t>(*n);
    }
    if (const Value* x = v.get("batch_timeout")) {
      if (auto d = duration_of(*x, "batch_timeout")) s.batch_timeout = *d;
    }
  }

  ComponentSpec parse_component(const Value& v, const std::string& what, bool is_sink) {
    ComponentSpec c;
    c.where = v.where;
    if (v.kind == Value::Kind::Scalar) {  // shorthand: `source: synthetic`
      c.type = v.scalar;
      c.name = c.type;
      c.options.kind = Value::Kind::Map;
      c.options.where = v.where;
      return c;
    }
    if (!expect(v, Value::Kind::Map, what)) return c;
    std::vector<std::string> keys = {"type", "name", "options"};
    if (is_sink) {
      keys.emplace_back("streams");
      keys.emplace_back("when");
    }
    check_keys(v, keys, what);
    if (const Value* t = v.get("type")) {
      c.type = string_of(*t, what + ".type");
      c.where = t->where;
    } else {
      diags_.add(v.where, what + " needs a 'type'");
    }
    c.name = c.type;
    if (const Value* n = v.get("name")) c.name = string_of(*n, what + ".name");
    if (const Value* o = v.get("options")) {
      if (o->kind == Value::Kind::Null) {
        c.options.kind = Value::Kind::Map;
        c.options.where = o->where;
      } else if (expect(*o, Value::Kind::Map, what + ".options")) {
        c.options = *o;
      }
    } else {
      c.options.kind = Value::Kind::Map;
      c.options.where = v.where;
    }
    if (const Value* s = v.get("streams")) {
      if (expect(*s, Value::Kind::List, what + ".streams")) {
        for (const auto& item : s->items) c.streams.push_back(string_of(item, what + ".streams[]"));
      }
    }
    if (const Value* w = v.get("when")) {
      if (expect(*w, Value::Kind::Scalar, what + ".when")) c.when = *w;
    }
    return c;
  }

  StepSpec parse_step(const Value& v, int group, const StepSpec& defaults) {
    StepSpec s = defaults;
    s.group = group;
    s.where = v.where;
    if (!expect(v, Value::Kind::Map, "step")) return s;
    check_keys(v, {"name", "description", "source", "transforms", "sinks", "timeout", "retry", "batch_size", "queue_capacity",
                   "batch_timeout"},
               "step");
    if (const Value* n = v.get("name")) {
      s.name = string_of(*n, "step name");
      if (!s.name.empty() && !std::regex_match(s.name, name_re())) {
        diags_.add(n->where, "step name '" + s.name + "' must match [a-z0-9][a-z0-9._-]*");
      }
    } else {
      diags_.add(v.where, "step needs a 'name'");
    }
    const std::string what = "step '" + s.name + "'";
    if (const Value* src = v.get("source")) {
      s.source = parse_component(*src, what + " source", false);
    } else {
      diags_.add(v.where, what + " needs a 'source'");
    }
    if (const Value* t = v.get("transforms")) {
      if (expect(*t, Value::Kind::List, what + " transforms")) {
        for (const auto& item : t->items) s.transforms.push_back(parse_component(item, what + " transform", false));
      }
    }
    if (const Value* k = v.get("sinks")) {
      if (expect(*k, Value::Kind::List, what + " sinks")) {
        for (const auto& item : k->items) s.sinks.push_back(parse_component(item, what + " sink", true));
        if (k->items.empty()) diags_.add(k->where, what + " needs at least one sink");
      }
    } else {
      diags_.add(v.where, what + " needs 'sinks' (a list with at least one sink)");
    }
    parse_step_settings(v, s);
    return s;
  }

  InputSpec parse_input(const Value::Entry& e) {
    InputSpec in;
    in.name = e.key;
    in.where = e.key_where;
    if (!std::regex_match(in.name, std::regex(R"(^[a-z_][a-z0-9_]*$)"))) {
      diags_.add(e.key_where, "input name '" + in.name + "' must match [a-z_][a-z0-9_]*");
    }
    const Value& v = e.value;
    if (v.kind == Value::Kind::Null) return in;
    if (!expect(v, Value::Kind::Map, "input '" + in.name + "'")) return in;
    check_keys(v, {"type", "description", "required", "default", "pattern", "enum", "min", "max", "secret", "unique"},
               "input '" + in.name + "'");
    if (const Value* t = v.get("type")) {
      in.type = string_of(*t, "type");
      static const std::vector<std::string> types = {"string", "int", "number", "bool", "list"};
      if (std::find(types.begin(), types.end(), in.type) == types.end()) {
        diags_.add(t->where, "input type '" + in.type + "' is not one of " + text::join(types) + text::did_you_mean(in.type, types));
      }
    }
    if (const Value* d = v.get("description")) in.description = string_of(*d, "description");
    if (const Value* r = v.get("required")) bool_of(*r, "required", in.required);
    if (const Value* s = v.get("secret")) bool_of(*s, "secret", in.secret);
    if (const Value* u = v.get("unique")) bool_of(*u, "unique", in.unique);
    if (const Value* d = v.get("default")) in.default_value = *d;
    if (const Value* p = v.get("pattern")) {
      in.pattern = string_of(*p, "pattern");
      try {
        std::regex check(in.pattern);
      } catch (const std::regex_error& ex) {
        diags_.add(p->where, "pattern is not a valid regular expression: " + std::string(ex.what()));
      }
    }
    if (const Value* en = v.get("enum")) {
      if (expect(*en, Value::Kind::List, "enum")) {
        for (const auto& item : en->items) in.allowed.push_back(string_of(item, "enum item"));
      }
    }
    if (const Value* m = v.get("min")) in.min = int_of(*m, "min", INT64_MIN, INT64_MAX);
    if (const Value* m = v.get("max")) in.max = int_of(*m, "max", INT64_MIN, INT64_MAX);
    if (in.required && in.default_value) diags_.add(in.where, "input '" + in.name + "' is required and has a default; use one");
    return in;
  }

  PipelineSpec parse(const Value& root) {
    PipelineSpec p;
    p.where = root.where;
    if (!expect(root, Value::Kind::Map, "a pipeline file")) return p;
    check_keys(root, {"name", "description", "version", "inputs", "defaults", "steps", "timeout", "max_dead_letters"},
               "the pipeline");
    if (const Value* n = root.get("name")) {
      p.name = string_of(*n, "name");
      if (!p.name.empty() && !std::regex_match(p.name, name_re())) {
        diags_.add(n->where, "pipeline name '" + p.name + "' must match [a-z0-9][a-z0-9._-]*");
      }
    } else {
      diags_.add(root.where, "the pipeline needs a 'name'");
    }
    if (const Value* d = root.get("description")) p.description = string_of(*d, "description");
    if (const Value* ver = root.get("version")) int_of(*ver, "version", 1, 1);
    if (const Value* t = root.get("timeout")) p.timeout = duration_of(*t, "timeout");
    if (const Value* m = root.get("max_dead_letters")) {
      if (auto n = int_of(*m, "max_dead_letters", 0, INT64_MAX)) p.max_dead_letters = static_cast<size_t>(*n);
    }
    if (const Value* in = root.get("inputs")) {
      if (in->kind != Value::Kind::Null && expect(*in, Value::Kind::Map, "inputs")) {
        for (const auto& e : in->entries) p.inputs.push_back(parse_input(e));
      }
    }
    StepSpec defaults;
    if (const Value* d = root.get("defaults")) {
      if (expect(*d, Value::Kind::Map, "defaults")) {
        check_keys(*d, {"timeout", "retry", "batch_size", "queue_capacity", "batch_timeout"}, "defaults");
        parse_step_settings(*d, defaults);
      }
    }
    const Value* steps = root.get("steps");
    if (steps == nullptr) {
      diags_.add(root.where, "the pipeline needs 'steps' (a list with at least one step)");
    } else if (expect(*steps, Value::Kind::List, "steps")) {
      if (steps->items.empty()) diags_.add(steps->where, "'steps' is empty; add at least one step");
      int group = 0;
      for (const auto& item : steps->items) {
        if (item.kind == Value::Kind::Map && item.get("parallel") != nullptr) {
          check_keys(item, {"parallel"}, "a parallel group");
          const Value& par = *item.get("parallel");
          if (expect(par, Value::Kind::List, "parallel")) {
            if (par.items.empty()) diags_.add(par.where, "'parallel' needs at least one step");
            for (const auto& s : par.items) p.steps.push_back(parse_step(s, group, defaults));
          }
        } else {
          p.steps.push_back(parse_step(item, group, defaults));
        }
        ++group;
      }
      p.groups = group;
    }
    std::set<std::string> names;
    for (const auto& s : p.steps) {
      if (!s.name.empty() && !names.insert(s.name).second) diags_.add(s.where, "duplicate step name '" + s.name + "'");
    }
    return p;
  }

 private:
  std::string file_;
  Diagnostics& diags_;
};

/// yaml-cpp's parse, its errors as ConfigErrors at file:line:col.
YAML::Node parse_yaml(const std::string& text, const std::string& file) {
  try {
    return YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    throw ConfigError(Location{file, e.mark.line + 1, e.mark.column + 1}, "YAML syntax error: " + e.msg);
  } catch (const YAML::Exception& e) {
    throw ConfigError(Location{file, e.mark.line >= 0 ? e.mark.line + 1 : 0, e.mark.column + 1}, "YAML error: " + e.msg);
  }
}

}  // namespace

Value load_yaml_text(const std::string& text, const std::string& file) {
  Diagnostics diags;
  const YAML::Node root = parse_yaml(text, file);
  Value v = from_yaml(root, file, Location{file, 1, 1}, diags);
  diags.throw_if_any();
  return v;
}

PipelineSpec load_pipeline_text(const std::string& text, const std::string& file) {
  Diagnostics diags;
  const YAML::Node root = parse_yaml(text, file);
  if (!root || root.IsNull()) throw ConfigError(Location{file, 1, 1}, "the file is empty; a pipeline needs 'name' and 'steps'");
  Value v = from_yaml(root, file, Location{file, 1, 1}, diags);
  Parser parser(file, diags);
  PipelineSpec spec = parser.parse(v);
  spec.file = file;
  diags.throw_if_any();
  return spec;
}

PipelineSpec load_pipeline_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ConfigError(Location{file.string(), 0, 0}, "cannot read pipeline file: " + std::string(std::strerror(errno)));
  std::stringstream ss;
  ss << in.rdbuf();
  return load_pipeline_text(ss.str(), file.string());
}

std::optional<fs::path> find_pipeline(const std::string& name_or_path, const fs::path& exe, std::vector<fs::path>* searched) {
  std::error_code ec;
  if (fs::is_regular_file(name_or_path, ec)) return fs::path(name_or_path);
  std::vector<fs::path> dirs;
  if (const char* env = std::getenv("PROGCAP_PIPELINE_PATH"); env != nullptr && *env != '\0') {
    for (const auto& d : text::split(env, ':')) {
      if (!d.empty()) dirs.emplace_back(d);
    }
  }
  const fs::path exe_dir = fs::weakly_canonical(exe, ec).parent_path();
  if (!exe_dir.empty()) dirs.push_back(exe_dir.parent_path() / "share" / "progcap" / "pipelines");
  dirs.emplace_back("pipelines");
  if (searched != nullptr) *searched = dirs;
  // A name is a bare identifier; anything with a slash was meant as a path.
  if (name_or_path.find('/') != std::string::npos) return std::nullopt;
  for (const auto& d : dirs) {
    for (const char* ext : {".yaml", ".yml", ""}) {
      fs::path candidate = d / (name_or_path + ext);
      if (fs::is_regular_file(candidate, ec)) return candidate;
    }
  }
  return std::nullopt;
}

}  // namespace progcap::core
