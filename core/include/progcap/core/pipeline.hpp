// progcap — pipeline files: parsing (with file:line:col diagnostics), inputs,
// ${...} interpolation, and validation against plugin option schemas.
#pragma once

#include <progcap/abi/progcap_plugin.h>
#include <progcap/core/diagnostics.hpp>
#include <progcap/core/plugin_registry.hpp>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace progcap::core {

/// A YAML value kept with its location (the YAML library is not needed
/// after parsing). Scalars stay text; they are typed against the option or
/// input they feed.
struct Value {
  enum class Kind { Null, Scalar, List, Map };
  struct Entry;
  Kind kind = Kind::Null;
  std::string scalar;
  bool quoted = false;    // a quoted YAML scalar is always a string
  bool deferred = false;  // an unresolved ${...} (validate mode): not type-checked
  std::vector<Value> items;
  std::vector<Entry> entries;
  Location where;

  [[nodiscard]] const Value* get(std::string_view key) const;
  [[nodiscard]] std::string to_json() const;  // plain scalars typed: int, number, bool, null, else string
};
struct Value::Entry {
  std::string key;
  Location key_where;
  Value value;
};

/// A typed, validated value handed to plugins.
struct ConfigValue {
  progcap_type type = PROGCAP_TYPE_NULL;
  bool b = false;
  int64_t i = 0;
  double d = 0;
  std::string s;

  [[nodiscard]] progcap_value view() const;
  [[nodiscard]] std::string display() const;  // for reports and logs
};

struct InputSpec {
  std::string name;
  std::string type = "string";  // string | int | number | bool | list
  std::string description;
  bool required = false;
  bool secret = false;
  bool unique = false;  // lists: items must be distinct
  std::optional<Value> default_value;
  std::string pattern;  // strings, and each list item
  std::vector<std::string> allowed;
  std::optional<int64_t> min;
  std::optional<int64_t> max;
  Location where;
};

struct RetryPolicySpec {
  unsigned max_attempts = 5;
  std::chrono::milliseconds initial_backoff{500};
  std::chrono::milliseconds max_backoff{30000};
  double multiplier = 2.0;
  double jitter = 0.2;  // +/- fraction
};

struct ComponentSpec {
  std::string type;
  std::string name;  // instance label; defaults to the type
  Value options;
  std::vector<std::string> streams;  // sinks: only these streams (empty = all)
  std::optional<Value> when;         // sinks: `true|false`, `A == B` or `A != B` after interpolation
  Location where;
};

struct StepSpec {
  std::string name;
  ComponentSpec source;
  std::vector<ComponentSpec> transforms;
  std::vector<ComponentSpec> sinks;
  std::optional<std::chrono::milliseconds> timeout;
  RetryPolicySpec retry;
  size_t batch_size = 1000;
  size_t queue_capacity = 8;  // batches buffered per sink
  std::chrono::milliseconds batch_timeout{1000};
  int group = 0;  // steps with the same group run in parallel; groups run in order
  Location where;
};

struct PipelineSpec {
  std::string name;
  std::string description;
  std::filesystem::path file;
  std::vector<InputSpec> inputs;
  std::vector<StepSpec> steps;
  std::optional<std::chrono::milliseconds> timeout;
  size_t max_dead_letters = 0;
  int groups = 0;
  Location where;

  [[nodiscard]] const InputSpec* input(std::string_view name) const;
};

/// Parses a pipeline file. Throws ConfigError with every problem found.
PipelineSpec load_pipeline_file(const std::filesystem::path& file);
/// Same, from text (for tests); `file` is used in locations.
PipelineSpec load_pipeline_text(const std::string& text, const std::string& file);

/// Parses YAML into a Value tree with file:line:col locations (for other
/// configuration files). Throws ConfigError on syntax errors.
Value load_yaml_text(const std::string& text, const std::string& file);
/// Substitutes ${env.NAME} / ${env.NAME:-default} in a Value tree (no inputs).
Value interpolate_env(const Value& v, Diagnostics& diags);

/// Finds a pipeline by path or name: a path that exists, else NAME(.yaml|.yml)
/// in PROGCAP_PIPELINE_PATH, the install's pipelines directory, ./pipelines.
std::optional<std::filesystem::path> find_pipeline(const std::string& name_or_path, const std::filesystem::path& exe,
                                                    std::vector<std::filesystem::path>* searched = nullptr);

/// `--set name=value` pairs, in order.
using InputOverrides = std::vector<std::pair<std::string, std::string>>;

enum class ResolveMode {
  Run,       // every ${...} must resolve; required inputs must be given
  Validate,  // unresolved env vars and missing required inputs are deferred
};

struct ResolvedComponent {
  ComponentKind kind = ComponentKind::Source;
  std::string type;
  std::string label;  // "<step>/<name>"
  std::shared_ptr<const ComponentInfo> info;
  std::vector<std::pair<std::string, ConfigValue>> options;  // validated, defaults applied
  std::vector<std::string> streams;
  Location where;
};

struct ResolvedStep {
  std::string name;
  int group = 0;
  ResolvedComponent source;
  std::vector<ResolvedComponent> transforms;
  std::vector<ResolvedComponent> sinks;
  std::optional<std::chrono::milliseconds> timeout;
  RetryPolicySpec retry;
  size_t batch_size = 1000;
  size_t queue_capacity = 8;
  std::chrono::milliseconds batch_timeout{1000};
  Location where;
};

struct ResolvedPipeline {
  std::string name;
  std::string description;
  std::filesystem::path file;
  std::vector<ResolvedStep> steps;
  std::vector<std::pair<std::string, std::string>> inputs;  // display values, secrets redacted
  std::optional<std::chrono::milliseconds> timeout;
  size_t max_dead_letters = 0;
  int groups = 0;
};

struct ResolveOptions {
  ResolveMode mode = ResolveMode::Run;
  InputOverrides overrides;
  /// Replace every sink with the NDJSON sink writing into this directory.
  std::optional<std::filesystem::path> dry_run_out;
};

/// Binds inputs, interpolates ${inputs.*}/${env.*} and validates every
/// component's options against its plugin's schema, before any instance is
/// created. Throws ConfigError with every problem found.
ResolvedPipeline resolve_pipeline(const PipelineSpec& spec, const PluginRegistry& registry, const ResolveOptions& opts);

/// Converts and validates one option value (exposed for tests and tools).
std::optional<ConfigValue> convert_option(const OptionInfo& opt, const Value& v, Diagnostics& diags);

}  // namespace progcap::core
