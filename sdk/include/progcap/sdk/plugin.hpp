// progcap C++ SDK — the one include a plugin needs, and PROGCAP_DECLARE_PLUGIN.
//
//   PROGCAP_DECLARE_PLUGIN("source-hello", "1.0.0", "Says hello", HelloSource)
//
// generates the two exported symbols (progcap_plugin_abi_version and
// progcap_plugin_entry), the descriptor, and exception-catching trampolines
// for every callback. Put it in exactly one .cpp file of the plugin.
#pragma once

#include <progcap/abi/progcap_plugin.h>
#include <progcap/sdk/component.hpp>
#include <progcap/sdk/context.hpp>
#include <progcap/sdk/options.hpp>
#include <progcap/sdk/schema.hpp>
#include <progcap/sdk/status.hpp>

#include <exception>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

/// progcap_add_plugin() defines PROGCAP_PLUGIN_VERSION_STRING from its VERSION
/// argument; other builds (e.g. a test executable) get this placeholder.
#ifndef PROGCAP_PLUGIN_VERSION_STRING
#define PROGCAP_PLUGIN_VERSION_STRING "0.0.0-unversioned"
#endif

namespace progcap::sdk::detail {

inline void set_error(progcap_error* err, progcap_status code, std::string_view msg) noexcept {
  const progcap_host_api* h = host_api();
  if (err != nullptr && h != nullptr) h->error_set(err, code, to_abi(msg));
}

/// Runs `f` and converts every exception into a status + error message.
template <class F>
progcap_status guard(progcap_error* err, F&& f) noexcept {
  try {
    return static_cast<progcap_status>(f());
  } catch (const Error& e) {
    auto code = static_cast<progcap_status>(e.code());
    if (code == PROGCAP_OK || code == PROGCAP_DONE || code == PROGCAP_PENDING) code = PROGCAP_ERR_FATAL;
    set_error(err, code, e.what());
    return code;
  } catch (const std::exception& e) {
    set_error(err, PROGCAP_ERR_FATAL, e.what());
    return PROGCAP_ERR_FATAL;
  } catch (...) {
    set_error(err, PROGCAP_ERR_FATAL, "unknown exception");
    return PROGCAP_ERR_FATAL;
  }
}

template <class T>
constexpr progcap_component_kind kind_of() {
  if constexpr (std::is_base_of_v<Source, T>) {
    return PROGCAP_KIND_SOURCE;
  } else if constexpr (std::is_base_of_v<Sink, T>) {
    return PROGCAP_KIND_SINK;
  } else {
    static_assert(std::is_base_of_v<Transform, T>, "a component derives from Source, Sink or Transform");
    return PROGCAP_KIND_TRANSFORM;
  }
}

template <class T>
OptionList options_of() {
  if constexpr (requires { T::options(); }) {
    return T::options();
  } else {
    return {};
  }
}

template <class T>
std::vector<const Stream*> streams_of() {
  if constexpr (requires { T::streams(); }) {
    return T::streams();
  } else {
    return {};
  }
}

template <class T>
constexpr uint32_t type_version_of() {
  if constexpr (requires { T::kTypeVersion; }) {
    return T::kTypeVersion;
  } else {
    return 1;
  }
}

template <class T>
constexpr uint32_t flags_of() {
  if constexpr (requires { T::kFlags; }) {
    return T::kFlags;
  } else {
    return 0;
  }
}

/// C trampolines for component T. Each catches everything.
template <class T>
struct Trampolines {
  static T* self(void* p) noexcept { return static_cast<T*>(p); }

  static void* create(progcap_host_ctx* ctx, const progcap_config* cfg, progcap_error* err) noexcept {
    T* out = nullptr;
    progcap_status s = guard(err, [&] {
      out = new T(Context(host_api(), ctx), Config(cfg));
      return Status::Ok;
    });
    if (s != PROGCAP_OK) return nullptr;
    return out;
  }
  static void destroy(void* inst) noexcept {
    try {
      delete self(inst);
    } catch (...) {  // NOLINT(bugprone-empty-catch): destructors must not leak exceptions into C
    }
  }
  static progcap_status start(void* inst, progcap_error* err) noexcept {
    return guard(err, [&] {
      self(inst)->start();
      return Status::Ok;
    });
  }
  static void stop(void* inst) noexcept {
    try {
      self(inst)->stop();
    } catch (...) {  // NOLINT(bugprone-empty-catch): a stop request cannot fail
    }
  }
  static progcap_status poll(void* inst, progcap_emitter* out, progcap_error* err) noexcept {
    if constexpr (std::is_base_of_v<Source, T>) {
      return guard(err, [&] {
        Emitter e(host_api(), out);
        return self(inst)->poll(e);
      });
    } else {
      return PROGCAP_ERR_FATAL;
    }
  }
  static progcap_status prepare(void* inst, const progcap_schema* schema, progcap_error* err) noexcept {
    if constexpr (std::is_base_of_v<Sink, T>) {
      return guard(err, [&] {
        self(inst)->prepare(*schema);
        return Status::Ok;
      });
    } else {
      return PROGCAP_ERR_FATAL;
    }
  }
  static progcap_status write(void* inst, const progcap_batch* batch, progcap_error* err) noexcept {
    if constexpr (std::is_base_of_v<Sink, T>) {
      return guard(err, [&] { return self(inst)->write(BatchView(*batch)); });
    } else {
      return PROGCAP_ERR_FATAL;
    }
  }
  static progcap_status flush(void* inst, uint32_t flags, progcap_error* err) noexcept {
    if constexpr (std::is_base_of_v<Sink, T>) {
      return guard(err, [&] {
        self(inst)->flush(flags);
        return Status::Ok;
      });
    } else {
      return PROGCAP_ERR_FATAL;
    }
  }
  static progcap_status process(void* inst, const progcap_batch* batch, progcap_emitter* out,
                                progcap_error* err) noexcept {
    if constexpr (std::is_base_of_v<Transform, T>) {
      return guard(err, [&] {
        Emitter e(host_api(), out);
        return self(inst)->process(BatchView(*batch), e);
      });
    } else {
      return PROGCAP_ERR_FATAL;
    }
  }
};

/// Static storage for one component's ABI definition.
struct ComponentHolder {
  std::string type_name;
  std::string description;
  OptionList options;
  std::vector<const progcap_option_def*> option_ptrs;
  std::vector<const progcap_schema*> stream_ptrs;
  progcap_component_def def{};
};

template <class T>
std::unique_ptr<ComponentHolder> make_component() {
  auto h = std::make_unique<ComponentHolder>();
  h->type_name = std::string(T::kType);
  h->description = std::string(T::kDescription);
  h->options = options_of<T>();
  for (const auto& spec : h->options.specs()) h->option_ptrs.push_back(spec->to_abi_def());
  for (const Stream* s : streams_of<T>()) h->stream_ptrs.push_back(s->abi());

  progcap_component_def& d = h->def;
  d.struct_size = sizeof(progcap_component_def);
  d.kind = kind_of<T>();
  d.type_name = to_abi(h->type_name);
  d.type_version = type_version_of<T>();
  d.flags = flags_of<T>();
  d.description = to_abi(h->description);
  d.option_count = static_cast<uint32_t>(h->option_ptrs.size());
  d.stream_count = static_cast<uint32_t>(h->stream_ptrs.size());
  d.options = h->option_ptrs.data();
  d.streams = h->stream_ptrs.data();
  using Tr = Trampolines<T>;
  d.create = &Tr::create;
  d.destroy = &Tr::destroy;
  d.start = &Tr::start;
  d.stop = &Tr::stop;
  if constexpr (std::is_base_of_v<Source, T>) d.poll = &Tr::poll;
  if constexpr (std::is_base_of_v<Sink, T>) {
    d.prepare = &Tr::prepare;
    d.write = &Tr::write;
    d.flush = &Tr::flush;
  }
  if constexpr (std::is_base_of_v<Transform, T>) d.process = &Tr::process;
  return h;
}

struct PluginHolder {
  std::string name;
  std::string version;
  std::string description;
  std::vector<std::unique_ptr<ComponentHolder>> components;
  std::vector<const progcap_component_def*> component_ptrs;
  progcap_plugin_descriptor desc{};
};

template <class... Ts>
const progcap_plugin_descriptor* plugin_entry(const progcap_host_api* host, const char* name, const char* version,
                                              const char* description) noexcept {
  if (host == nullptr || PROGCAP_ABI_MAJOR_OF(host->abi_version) != PROGCAP_ABI_MAJOR ||
      PROGCAP_ABI_MINOR_OF(host->abi_version) < PROGCAP_ABI_MINOR) {
    return nullptr;  // the host's manifest check normally refuses this earlier
  }
  try {
    host_api() = host;
    static const std::unique_ptr<PluginHolder> holder = [&] {
      auto p = std::make_unique<PluginHolder>();
      p->name = name;
      p->version = version;
      p->description = description;
      (p->components.push_back(make_component<Ts>()), ...);
      for (auto& c : p->components) p->component_ptrs.push_back(&c->def);
      p->desc.struct_size = sizeof(progcap_plugin_descriptor);
      p->desc.abi_version = PROGCAP_ABI_VERSION;
      p->desc.name = to_abi(p->name);
      p->desc.version = to_abi(p->version);
      p->desc.description = to_abi(p->description);
      p->desc.component_count = static_cast<uint32_t>(p->component_ptrs.size());
      p->desc.components = p->component_ptrs.data();
      return p;
    }();
    return &holder->desc;
  } catch (...) {
    return nullptr;
  }
}

}  // namespace progcap::sdk::detail

/// Declares a plugin library: name (must match the manifest and the file name
/// libprogcap-<name>.so), version, description, then the component classes.
#define PROGCAP_DECLARE_PLUGIN(NAME, VERSION, DESCRIPTION, ...)                                              \
  extern "C" PROGCAP_EXPORT const uint32_t progcap_plugin_abi_version = PROGCAP_ABI_VERSION;                \
  extern "C" PROGCAP_EXPORT const progcap_plugin_descriptor* progcap_plugin_entry(const progcap_host_api* h) { \
    return ::progcap::sdk::detail::plugin_entry<__VA_ARGS__>(h, NAME, VERSION, DESCRIPTION);                  \
  }
