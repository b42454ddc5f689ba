// progcap — plugin discovery, loading, ABI checks and the component registry.
//
// Checks run in this order for every candidate file; the first failure
// refuses the plugin with one message naming the file, what was found, what
// was expected and what to do:
//   1. file name libprogcap-<source|sink|transform|bundle>-<name>.so
//   2. manifest libprogcap-<...>.json next to it (parsed, name + ABI window)
//      — before any code of the library runs
//   3. dlopen(RTLD_NOW | RTLD_LOCAL) through Boost.DLL
//   4. both exported symbols present
//   5. progcap_plugin_abi_version inside the window and equal to the manifest
//   6. progcap_plugin_entry(host) returns a descriptor
//   7. descriptor sanity: sizes, names, callbacks per kind, options, streams,
//      manifest == descriptor
//   8. no component type already provided by an earlier plugin
#pragma once

#include <progcap/abi/progcap_plugin.h>

#include <cstdint>
#include <filesystem>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace progcap::core {

/// The range of plugin ABI versions this host accepts: same major, minor in
/// [min_minor, max_minor]. Kept in one place with test-only setters.
struct AbiWindow {
  uint32_t major = PROGCAP_ABI_MAJOR;
  uint32_t min_minor = 0;
  uint32_t max_minor = PROGCAP_ABI_MINOR;

  [[nodiscard]] bool accepts(uint32_t major_v, uint32_t minor_v) const noexcept {
    return major_v == major && minor_v >= min_minor && minor_v <= max_minor;
  }
  /// "1.0–1.3" or "1.0"
  [[nodiscard]] std::string describe() const;

  static AbiWindow current();
  static void set_for_testing(const AbiWindow& w);
  static void reset_for_testing();
};

enum class ComponentKind { Source, Sink, Transform };
const char* to_string(ComponentKind k) noexcept;
std::optional<ComponentKind> component_kind_from(std::string_view s) noexcept;

/// An option declaration copied out of the plugin (host-owned strings).
struct OptionInfo {
  std::string name;
  progcap_option_type type = PROGCAP_OPTION_STRING;
  std::string description;
  bool required = false;
  bool secret = false;
  std::string default_value;  // YAML text; empty = none
  std::string pattern;
  std::vector<std::string> allowed;
  std::optional<std::pair<int64_t, int64_t>> range;
};
const char* option_type_name(progcap_option_type t) noexcept;

/// A stream schema copied into host memory; `abi` points into this object.
struct StreamSchema {
  struct Field {
    std::string name;
    progcap_type type = PROGCAP_TYPE_NULL;
    uint32_t flags = 0;
    std::string description;
  };
  std::string name;
  std::string description;
  std::vector<Field> fields;

  StreamSchema() = default;
  StreamSchema(const StreamSchema&) = delete;
  StreamSchema& operator=(const StreamSchema&) = delete;

  /// Builds the ABI view (call after the fields are final).
  void seal();
  [[nodiscard]] const progcap_schema* abi() const noexcept { return &abi_; }
  [[nodiscard]] std::vector<std::string> primary_key() const;

 private:
  std::vector<progcap_field> abi_fields_;
  std::vector<const progcap_field*> abi_ptrs_;
  progcap_schema abi_{};
};

class PluginModule;

struct ComponentInfo {
  ComponentKind kind = ComponentKind::Source;
  std::string type;
  uint32_t type_version = 1;
  uint32_t flags = 0;
  std::string description;
  std::vector<OptionInfo> options;
  std::vector<std::unique_ptr<StreamSchema>> streams;
  progcap_component_def def{};               // host copy of the plugin's definition
  std::shared_ptr<PluginModule> module;      // keeps the library loaded
  std::string plugin_name;

  [[nodiscard]] const OptionInfo* option(std::string_view name) const;
};

enum class PluginStatus { Loaded, Refused };

struct PluginInfo {
  std::string name;            // from the descriptor or manifest (or the file name)
  std::string version;
  std::string description;
  std::string abi;             // "1.0" as found
  std::filesystem::path path;  // the library
  PluginStatus status = PluginStatus::Refused;
  std::string reason;          // refusal message
  std::vector<std::pair<std::string, std::string>> declared;  // (kind, type) from the manifest
  std::vector<std::shared_ptr<const ComponentInfo>> components;
};

/// Owns one loaded library. Destroyed only after every instance created from
/// its components (they hold a shared_ptr to it); calls the descriptor's
/// deinit, then unloads.
class PluginModule {
 public:
  PluginModule(std::filesystem::path path, std::shared_ptr<void> library);
  ~PluginModule();
  PluginModule(const PluginModule&) = delete;
  PluginModule& operator=(const PluginModule&) = delete;

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  void set_deinit(void (*deinit)(void*), void* user) noexcept {
    deinit_ = deinit;
    deinit_user_ = user;
  }

 private:
  std::filesystem::path path_;
  std::shared_ptr<void> library_;  // boost::dll::shared_library, type-erased
  void (*deinit_)(void*) = nullptr;
  void* deinit_user_ = nullptr;
};

class PluginRegistry {
 public:
  /// `host` is the function table handed to every plugin's entry point.
  explicit PluginRegistry(const progcap_host_api* host);

  /// Directories from PROGCAP_PLUGIN_PATH (colon-separated) followed by the
  /// build-tree and install plugin directories next to `exe`.
  static std::vector<std::filesystem::path> default_search_path(const std::filesystem::path& exe);

  /// Scans directories in order (files sorted by name). Missing directories
  /// are noted in warnings(). Loading happens on the calling thread only.
  void discover(const std::vector<std::filesystem::path>& dirs);
  /// Loads one library file (used by discover and tests).
  const PluginInfo& load_file(const std::filesystem::path& file);

  [[nodiscard]] const std::deque<PluginInfo>& plugins() const noexcept { return plugins_; }
  [[nodiscard]] const std::vector<std::string>& warnings() const noexcept { return warnings_; }
  [[nodiscard]] const std::vector<std::filesystem::path>& searched() const noexcept { return searched_; }

  /// The loaded component of this kind and type, or nullptr.
  [[nodiscard]] std::shared_ptr<const ComponentInfo> find(ComponentKind kind, std::string_view type) const;
  /// Why find() returned nullptr: names refused plugins that declared the type,
  /// or lists the known types with a did-you-mean.
  [[nodiscard]] std::string why_unavailable(ComponentKind kind, std::string_view type) const;
  [[nodiscard]] std::vector<std::string> types(ComponentKind kind) const;
  /// Looks up a plugin by its name ("sink-ndjson") or a component type ("ndjson").
  [[nodiscard]] const PluginInfo* plugin(std::string_view name_or_type) const;

 private:
  PluginInfo& refuse(PluginInfo& info, std::string reason);

  const progcap_host_api* host_;
  std::deque<PluginInfo> plugins_;  // deque: references stay valid
  std::vector<std::string> warnings_;
  std::vector<std::filesystem::path> searched_;
  std::vector<std::filesystem::path> scanned_;  // canonical forms of the directories scanned
  std::map<std::pair<ComponentKind, std::string>, std::shared_ptr<const ComponentInfo>> components_;
};

}  // namespace progcap::core
