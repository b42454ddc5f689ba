// Plugin discovery and loading: the only translation unit that uses Boost.DLL.
#define BOOST_DLL_USE_STD_FS 1
#include <progcap/core/plugin_registry.hpp>

#include <progcap/core/logging.hpp>
#include <progcap/core/text.hpp>

#include <boost/dll/shared_library.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

namespace fs = std::filesystem;

namespace progcap::core {

// ---------------------------------------------------------------------------
// ABI window
// ---------------------------------------------------------------------------

namespace {
AbiWindow& window_slot() {
  static AbiWindow w;
  return w;
}
}  // namespace

AbiWindow AbiWindow::current() { return window_slot(); }
void AbiWindow::set_for_testing(const AbiWindow& w) { window_slot() = w; }
void AbiWindow::reset_for_testing() { window_slot() = AbiWindow{}; }

std::string AbiWindow::describe() const {
  std::string lo = std::to_string(major) + "." + std::to_string(min_minor);
  std::string hi = std::to_string(major) + "." + std::to_string(max_minor);
  return lo == hi ? lo : lo + "\u2013" + hi;
}

const char* to_string(ComponentKind k) noexcept {
  switch (k) {
    case ComponentKind::Source: return "source";
    case ComponentKind::Sink: return "sink";
    case ComponentKind::Transform: return "transform";
  }
  return "?";
}

std::optional<ComponentKind> component_kind_from(std::string_view s) noexcept {
  if (s == "source") return ComponentKind::Source;
  if (s == "sink") return ComponentKind::Sink;
  if (s == "transform") return ComponentKind::Transform;
  return std::nullopt;
}

const char* option_type_name(progcap_option_type t) noexcept {
  switch (t) {
    case PROGCAP_OPTION_STRING: return "string";
    case PROGCAP_OPTION_INT: return "int";
    case PROGCAP_OPTION_DOUBLE: return "number";
    case PROGCAP_OPTION_BOOL: return "bool";
    case PROGCAP_OPTION_STRING_LIST: return "list";
    case PROGCAP_OPTION_DURATION: return "duration";
    case PROGCAP_OPTION_JSON: return "json";
    default: return "unknown";
  }
}

// ---------------------------------------------------------------------------
// Host-owned schema copies
// ---------------------------------------------------------------------------

void StreamSchema::seal() {
  abi_fields_.clear();
  abi_ptrs_.clear();
  abi_fields_.reserve(fields.size());
  for (const auto& f : fields) {
    abi_fields_.push_back(progcap_field{sizeof(progcap_field), f.type, {f.name.data(), f.name.size()}, f.flags, 0,
                                        {f.description.data(), f.description.size()}});
  }
  for (const auto& f : abi_fields_) abi_ptrs_.push_back(&f);
  abi_ = progcap_schema{sizeof(progcap_schema), static_cast<uint32_t>(abi_ptrs_.size()), {name.data(), name.size()},
                        abi_ptrs_.data(), {description.data(), description.size()}};
}

std::vector<std::string> StreamSchema::primary_key() const {
  std::vector<std::string> pk;
  for (const auto& f : fields) {
    if ((f.flags & PROGCAP_FIELD_PRIMARY_KEY) != 0) pk.push_back(f.name);
  }
  return pk;
}

const OptionInfo* ComponentInfo::option(std::string_view name) const {
  for (const auto& o : options) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------
// Module lifetime
// ---------------------------------------------------------------------------

PluginModule::PluginModule(fs::path path, std::shared_ptr<void> library)
    : path_(std::move(path)), library_(std::move(library)) {}

PluginModule::~PluginModule() {
  if (deinit_ != nullptr) deinit_(deinit_user_);
  // library_ is released after deinit: every instance already died (they
  // hold shared_ptr<PluginModule>), so unloading cannot leave dangling code.
}

// ---------------------------------------------------------------------------
// Reading plugin structs defensively
// ---------------------------------------------------------------------------

namespace {

std::string str_of(progcap_str s) { return s.len == 0 || s.data == nullptr ? std::string() : std::string(s.data, s.len); }

std::string abi_str(uint32_t v) { return std::to_string(PROGCAP_ABI_MAJOR_OF(v)) + "." + std::to_string(PROGCAP_ABI_MINOR_OF(v)); }

/// Copies a size-prefixed struct from plugin memory into a zeroed host copy.
/// The smallest valid size is the size at ABI 1.0 (the first release).
template <class T>
bool read_struct(const T* p, T& out, const char* what, std::string& why) {
  if (p == nullptr) {
    why = std::string(what) + " is NULL";
    return false;
  }
  uint32_t size = 0;
  std::memcpy(&size, p, sizeof size);
  constexpr uint32_t kMin = sizeof(T);  // == size at ABI 1.0
  if (size > sizeof(T)) {
    why = std::string(what) + " has struct_size " + std::to_string(size) + " but this host knows " +
          std::to_string(sizeof(T)) + " bytes: the plugin was built against a newer progcap-sdk than this host (ABI " +
          AbiWindow::current().describe() + "); upgrade progcap or rebuild the plugin against this host's SDK";
    return false;
  }
  if (size < kMin) {
    why = std::string(what) + " has struct_size " + std::to_string(size) + ", smaller than the " + std::to_string(kMin) +
          " bytes of ABI 1.0: the descriptor is corrupt or was not built with progcap-sdk";
    return false;
  }
  out = T{};
  std::memcpy(static_cast<void*>(&out), p, size);
  return true;
}

const std::regex& file_name_re() {
  static const std::regex re(R"(^libprogcap-(source|sink|transform|bundle)-[a-z0-9]+(-[a-z0-9]+)*\.so$)");
  return re;
}
const std::regex& ident_re() {
  static const std::regex re(R"(^[a-z][a-z0-9_-]*$)");
  return re;
}
const std::regex& option_name_re() {
  static const std::regex re(R"(^[a-z][a-z0-9_]*$)");
  return re;
}

bool parse_abi(const std::string& s, uint32_t& major, uint32_t& minor) {
  static const std::regex re(R"(^([0-9]+)\.([0-9]+)$)");
  std::smatch m;
  if (!std::regex_match(s, m, re)) return false;
  major = static_cast<uint32_t>(std::stoul(m[1].str()));
  minor = static_cast<uint32_t>(std::stoul(m[2].str()));
  return true;
}

std::string window_advice(uint32_t major, uint32_t minor) {
  const AbiWindow w = AbiWindow::current();
  if (major != w.major) {
    return major > w.major ? "upgrade progcap to a release with plugin ABI " + std::to_string(major) +
                                 ".x, or rebuild the plugin with progcap-sdk " + w.describe()
                           : "rebuild the plugin with progcap-sdk " + w.describe();
  }
  if (minor > w.max_minor) {
    return "upgrade progcap to a release supporting ABI " + std::to_string(major) + "." + std::to_string(minor) +
           ", or rebuild the plugin with progcap-sdk " + w.describe();
  }
  return "rebuild the plugin with progcap-sdk " + w.describe();
}

}  // namespace

// ---------------------------------------------------------------------------
// Registry
// ---------------------------------------------------------------------------

PluginRegistry::PluginRegistry(const progcap_host_api* host) : host_(host) {}

std::vector<fs::path> PluginRegistry::default_search_path(const fs::path& exe) {
  std::vector<fs::path> dirs;
  if (const char* env = std::getenv("PROGCAP_PLUGIN_PATH"); env != nullptr && *env != '\0') {
    for (const auto& d : text::split(env, ':')) {
      if (!d.empty()) dirs.emplace_back(d);
    }
  }
  std::error_code ec;
  const fs::path exe_dir = fs::weakly_canonical(exe, ec).parent_path();
  if (!exe_dir.empty()) {
    const fs::path build_dir = exe_dir / "plugins";                          // build tree
    const fs::path install_dir = exe_dir.parent_path() / "lib" / "progcap" / "plugins";  // <prefix>/bin/progcap
    const bool in_build_tree = fs::is_directory(build_dir, ec);
    if (in_build_tree) dirs.push_back(build_dir);
    // The install directory is optional when running from a build tree.
    if (!in_build_tree || fs::is_directory(install_dir, ec)) dirs.push_back(install_dir);
  }
  return dirs;
}

void PluginRegistry::discover(const std::vector<fs::path>& dirs) {
  for (const auto& dir : dirs) {
    std::error_code ec;
    // The same directory named twice (PROGCAP_PLUGIN_PATH and the install's
    // directory, a symlink, a trailing slash) is scanned once: its plugins
    // are not duplicates of themselves.
    const fs::path canonical = fs::weakly_canonical(dir, ec);
    if (!ec && std::find(scanned_.begin(), scanned_.end(), canonical) != scanned_.end()) continue;
    if (!ec) scanned_.push_back(canonical);
    ec.clear();
    searched_.push_back(dir);
    if (!fs::is_directory(dir, ec)) {
      warnings_.push_back("plugin directory " + dir.string() + " does not exist" +
                          (fs::exists(dir, ec) ? " (it is not a directory)" : ""));
      continue;
    }
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      const std::string name = entry.path().filename().string();
      // Only files claiming to be progcap plugins are candidates; other
      // shared libraries (a plugin's own dependencies) are left alone.
      if (name.rfind("libprogcap", 0) == 0 && entry.path().extension() == ".so") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) load_file(f);
  }
}

PluginInfo& PluginRegistry::refuse(PluginInfo& info, std::string reason) {
  info.status = PluginStatus::Refused;
  info.reason = std::move(reason);
  info.components.clear();
  logger()->warn("plugin refused: {}: {}", info.path.string(), info.reason);
  return info;
}

const PluginInfo& PluginRegistry::load_file(const fs::path& file) {
  plugins_.emplace_back();
  PluginInfo& info = plugins_.back();
  info.path = file;
  const std::string fname = file.filename().string();
  info.name = fname;

  // 1. File name.
  if (!std::regex_match(fname, file_name_re())) {
    return refuse(info, "file name '" + fname +
                            "' does not follow libprogcap-<source|sink|transform|bundle>-<name>.so "
                            "(lower-case letters, digits and dashes); rename it or build it with progcap_add_plugin()");
  }
  const std::string expected_name = fname.substr(std::strlen("libprogcap-"), fname.size() - std::strlen("libprogcap-") - 3);
  info.name = expected_name;

  // 2. Manifest, before any code of the library runs.
  fs::path manifest_path = file;
  manifest_path.replace_extension(".json");
  nlohmann::json manifest;
  {
    std::ifstream in(manifest_path);
    if (!in) {
      return refuse(info, "manifest " + manifest_path.filename().string() +
                              " not found next to the library; install the plugin together with its manifest "
                              "(progcap_add_plugin() writes it)");
    }
    try {
      in >> manifest;
    } catch (const std::exception& e) {
      return refuse(info, "manifest " + manifest_path.string() + " is not valid JSON: " + e.what());
    }
  }
  if (!manifest.is_object() || !manifest.contains("name") || !manifest["name"].is_string() || !manifest.contains("abi") ||
      !manifest["abi"].is_string() || !manifest.contains("components") || !manifest["components"].is_array()) {
    return refuse(info, "manifest " + manifest_path.string() +
                            " must be an object with string 'name', string 'abi' (\"MAJOR.MINOR\") and array 'components'");
  }
  info.abi = manifest["abi"].get<std::string>();
  info.version = manifest.value("version", std::string());
  info.description = manifest.value("description", std::string());
  for (const auto& c : manifest["components"]) {
    if (c.is_object() && c.contains("kind") && c.contains("type") && c["kind"].is_string() && c["type"].is_string()) {
      info.declared.emplace_back(c["kind"].get<std::string>(), c["type"].get<std::string>());
    } else {
      return refuse(info, "manifest " + manifest_path.string() + ": every component needs string 'kind' and 'type'");
    }
  }
  if (manifest["name"].get<std::string>() != expected_name) {
    return refuse(info, "manifest name '" + manifest["name"].get<std::string>() + "' does not match the file name (expected '" +
                            expected_name + "'); rebuild the plugin so both agree");
  }
  uint32_t man_major = 0;
  uint32_t man_minor = 0;
  if (!parse_abi(info.abi, man_major, man_minor)) {
    return refuse(info, "manifest abi '" + info.abi + "' is not MAJOR.MINOR");
  }
  const AbiWindow window = AbiWindow::current();
  if (!window.accepts(man_major, man_minor)) {
    return refuse(info, "plugin '" + expected_name + "' was built for plugin ABI " + info.abi + " (manifest); this host supports " +
                            window.describe() + "; " + window_advice(man_major, man_minor));
  }

  // 3. Load with RTLD_NOW so missing dependencies fail here, not mid-run.
  auto lib = std::make_shared<boost::dll::shared_library>();
  try {
    lib->load(file, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& e) {
    return refuse(info, std::string("cannot be loaded (dlopen): ") + e.what() +
                            "; check that it is a shared library for this platform and that its dependencies are installed");
  }

  // 4. Symbols.
  for (const char* sym : {PROGCAP_SYMBOL_ABI_VERSION, PROGCAP_SYMBOL_ENTRY}) {
    if (!lib->has(sym)) {
      return refuse(info, std::string("not a progcap plugin: missing exported symbol ") + sym +
                              "; declare the plugin with PROGCAP_DECLARE_PLUGIN (progcap-sdk)");
    }
  }

  // 5. Authoritative version check.
  const uint32_t version = lib->get<const uint32_t>(PROGCAP_SYMBOL_ABI_VERSION);
  const uint32_t major = PROGCAP_ABI_MAJOR_OF(version);
  const uint32_t minor = PROGCAP_ABI_MINOR_OF(version);
  if (!window.accepts(major, minor)) {
    info.abi = abi_str(version);
    return refuse(info, "plugin '" + expected_name + "' was built for plugin ABI " + abi_str(version) + "; this host supports " +
                            window.describe() + "; " + window_advice(major, minor));
  }
  if (major != man_major || minor != man_minor) {
    return refuse(info, "library exports ABI " + abi_str(version) + " but its manifest says " + info.abi +
                            "; the manifest is stale, rebuild and reinstall the plugin");
  }

  // 6. Entry point.
  auto entry = lib->get<const progcap_plugin_descriptor*(const progcap_host_api*)>(PROGCAP_SYMBOL_ENTRY);
  const progcap_plugin_descriptor* raw = entry(host_);
  progcap_plugin_descriptor desc{};
  std::string why;
  if (raw == nullptr) {
    return refuse(info, "progcap_plugin_entry returned NULL (the plugin failed to initialise; see its log lines above)");
  }
  if (!read_struct(raw, desc, "plugin descriptor", why)) return refuse(info, why);

  // 7. Descriptor sanity.
  if (desc.abi_version != version) {
    return refuse(info, "descriptor abi_version " + abi_str(desc.abi_version) + " differs from the exported " + abi_str(version));
  }
  const std::string desc_name = str_of(desc.name);
  if (desc_name != expected_name) {
    return refuse(info, "descriptor name '" + desc_name + "' does not match the file name (expected '" + expected_name + "')");
  }
  info.version = str_of(desc.version);
  if (info.version.empty()) return refuse(info, "descriptor has an empty version");
  if (!str_of(desc.description).empty()) info.description = str_of(desc.description);
  if (desc.component_count == 0 || desc.components == nullptr) return refuse(info, "descriptor declares no components");

  auto module = std::make_shared<PluginModule>(file, std::static_pointer_cast<void>(lib));
  module->set_deinit(desc.deinit, desc.user_data);

  std::vector<std::shared_ptr<ComponentInfo>> comps;
  std::set<std::pair<std::string, std::string>> seen;
  for (uint32_t i = 0; i < desc.component_count; ++i) {
    auto ci = std::make_shared<ComponentInfo>();
    const std::string what = "component #" + std::to_string(i + 1);
    if (!read_struct(desc.components[i], ci->def, what.c_str(), why)) return refuse(info, why);
    const progcap_component_def& d = ci->def;
    ci->type = str_of(d.type_name);
    ci->type_version = d.type_version;
    ci->flags = d.flags;
    ci->description = str_of(d.description);
    ci->plugin_name = expected_name;
    ci->module = module;
    const std::string label = what + " ('" + ci->type + "')";
    switch (d.kind) {
      case PROGCAP_KIND_SOURCE: ci->kind = ComponentKind::Source; break;
      case PROGCAP_KIND_SINK: ci->kind = ComponentKind::Sink; break;
      case PROGCAP_KIND_TRANSFORM: ci->kind = ComponentKind::Transform; break;
      default: return refuse(info, label + " has unknown kind " + std::to_string(d.kind));
    }
    if (!std::regex_match(ci->type, ident_re())) {
      return refuse(info, label + ": type name must match [a-z][a-z0-9_-]*");
    }
    if (!seen.emplace(to_string(ci->kind), ci->type).second) {
      return refuse(info, label + " is declared twice in the same plugin");
    }
    if (d.create == nullptr || d.destroy == nullptr) return refuse(info, label + " lacks create/destroy callbacks");
    if (ci->kind == ComponentKind::Source && d.poll == nullptr) return refuse(info, label + ": a source needs poll");
    if (ci->kind == ComponentKind::Sink && d.write == nullptr) return refuse(info, label + ": a sink needs write");
    if (ci->kind == ComponentKind::Transform && d.process == nullptr) return refuse(info, label + ": a transform needs process");
    if (d.option_count > 0 && d.options == nullptr) return refuse(info, label + ": options pointer is NULL");
    std::set<std::string> opt_names;
    for (uint32_t o = 0; o < d.option_count; ++o) {
      progcap_option_def od{};
      if (!read_struct(d.options[o], od, (label + " option #" + std::to_string(o + 1)).c_str(), why)) return refuse(info, why);
      OptionInfo oi;
      oi.name = str_of(od.name);
      oi.type = od.type;
      oi.description = str_of(od.description);
      oi.required = (od.flags & PROGCAP_OPTION_REQUIRED) != 0;
      oi.secret = (od.flags & PROGCAP_OPTION_SECRET) != 0;
      oi.default_value = str_of(od.default_value);
      oi.pattern = str_of(od.pattern);
      if (od.allowed.len != 0) oi.allowed = text::split(str_of(od.allowed), '|');
      if (od.has_range != 0) oi.range = std::make_pair(od.min_value, od.max_value);
      if (!std::regex_match(oi.name, option_name_re())) {
        return refuse(info, label + ": option name '" + oi.name + "' must match [a-z][a-z0-9_]*");
      }
      if (std::string(option_type_name(oi.type)) == "unknown") {
        return refuse(info, label + ": option '" + oi.name + "' has unknown type " + std::to_string(oi.type));
      }
      if (!opt_names.insert(oi.name).second) return refuse(info, label + ": option '" + oi.name + "' declared twice");
      if (!oi.pattern.empty()) {
        try {
          std::regex check(oi.pattern);
        } catch (const std::regex_error&) {
          return refuse(info, label + ": option '" + oi.name + "' has an invalid pattern");
        }
      }
      ci->options.push_back(std::move(oi));
    }
    if (d.stream_count > 0 && d.streams == nullptr) return refuse(info, label + ": streams pointer is NULL");
    std::set<std::string> stream_names;
    for (uint32_t s = 0; s < d.stream_count; ++s) {
      progcap_schema sc{};
      if (!read_struct(d.streams[s], sc, (label + " stream #" + std::to_string(s + 1)).c_str(), why)) return refuse(info, why);
      auto schema = std::make_unique<StreamSchema>();
      schema->name = str_of(sc.stream);
      schema->description = str_of(sc.description);
      if (!std::regex_match(schema->name, option_name_re())) {
        return refuse(info, label + ": stream name '" + schema->name + "' must match [a-z][a-z0-9_]*");
      }
      if (!stream_names.insert(schema->name).second) return refuse(info, label + ": stream '" + schema->name + "' declared twice");
      if (sc.field_count == 0 || sc.fields == nullptr) return refuse(info, label + ": stream '" + schema->name + "' has no fields");
      std::set<std::string> field_names;
      for (uint32_t f = 0; f < sc.field_count; ++f) {
        progcap_field fd{};
        if (!read_struct(sc.fields[f], fd, (label + " stream '" + schema->name + "' field #" + std::to_string(f + 1)).c_str(), why)) {
          return refuse(info, why);
        }
        StreamSchema::Field field{str_of(fd.name), fd.type, fd.flags, str_of(fd.description)};
        if (field.name.empty() || !field_names.insert(field.name).second) {
          return refuse(info, label + ": stream '" + schema->name + "' has an empty or duplicate field name '" + field.name + "'");
        }
        if (fd.type < PROGCAP_TYPE_BOOL || fd.type > PROGCAP_TYPE_JSON) {
          return refuse(info, label + ": field '" + schema->name + "." + field.name + "' has invalid type " + std::to_string(fd.type));
        }
        schema->fields.push_back(std::move(field));
      }
      schema->seal();
      ci->streams.push_back(std::move(schema));
    }
    comps.push_back(std::move(ci));
  }

  // Manifest must match the descriptor exactly.
  std::set<std::pair<std::string, std::string>> declared(info.declared.begin(), info.declared.end());
  if (declared != seen) {
    std::vector<std::string> d1;
    std::vector<std::string> d2;
    for (const auto& [k, t] : declared) d1.push_back(k + " " + t);
    for (const auto& [k, t] : seen) d2.push_back(k + " " + t);
    return refuse(info, "manifest components [" + text::join(d1) + "] differ from the library's [" + text::join(d2) +
                            "]; the manifest is stale, rebuild and reinstall the plugin");
  }

  // 8. Duplicate types across plugins: the first one found wins.
  for (const auto& c : comps) {
    auto it = components_.find({c->kind, c->type});
    if (it != components_.end()) {
      return refuse(info, std::string("duplicate ") + to_string(c->kind) + " type '" + c->type + "', already provided by " +
                              it->second->module->path().string() + "; remove one of the two plugins or rename the type");
    }
  }
  for (auto& c : comps) {
    components_[{c->kind, c->type}] = c;
    info.components.push_back(c);
  }
  info.status = PluginStatus::Loaded;
  info.reason.clear();
  logger()->debug("plugin loaded: {} {} (ABI {}, {} component(s))", info.name, info.version, info.abi, info.components.size());
  return info;
}

std::shared_ptr<const ComponentInfo> PluginRegistry::find(ComponentKind kind, std::string_view type) const {
  auto it = components_.find({kind, std::string(type)});
  return it == components_.end() ? nullptr : it->second;
}

std::vector<std::string> PluginRegistry::types(ComponentKind kind) const {
  std::vector<std::string> out;
  for (const auto& [key, c] : components_) {
    if (key.first == kind) out.push_back(key.second);
  }
  return out;
}

std::string PluginRegistry::why_unavailable(ComponentKind kind, std::string_view type) const {
  for (const auto& p : plugins_) {
    if (p.status != PluginStatus::Refused) continue;
    for (const auto& [k, t] : p.declared) {
      if (k == to_string(kind) && t == type) {
        return std::string(to_string(kind)) + " type '" + std::string(type) + "' is unavailable: its plugin " +
               p.path.filename().string() + " was refused: " + p.reason;
      }
    }
  }
  std::vector<std::string> known = types(kind);
  std::string msg = "unknown " + std::string(to_string(kind)) + " type '" + std::string(type) + "'" + text::did_you_mean(type, known);
  msg += known.empty() ? "; no " + std::string(to_string(kind)) + " plugins are loaded" : "; available: " + text::join(known);
  if (searched_.empty()) return msg;
  std::vector<std::string> dirs;
  for (const auto& d : searched_) dirs.push_back(d.string());
  return msg + " (searched " + text::join(dirs, ":") + ")";
}

const PluginInfo* PluginRegistry::plugin(std::string_view name_or_type) const {
  for (const auto& p : plugins_) {
    if (p.name == name_or_type) return &p;
  }
  for (const auto& p : plugins_) {
    for (const auto& c : p.components) {
      if (c->type == name_or_type) return &p;
    }
    for (const auto& [k, t] : p.declared) {
      if (t == name_or_type) return &p;
    }
  }
  return nullptr;
}

}  // namespace progcap::core
