// progcap — the host side of progcap_host_api: the C function table forwards
// to these interfaces, which the runtime implements per component instance.
#pragma once

#include <progcap/abi/progcap_plugin.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace progcap::core {

/// Services for one component instance (logging prefix, state namespace,
/// metrics, cancellation...). Implementations must be thread-safe.
class HostServices {
 public:
  virtual ~HostServices() = default;
  virtual void log(progcap_log_level level, std::string_view message) = 0;
  virtual bool log_enabled(progcap_log_level level) = 0;
  virtual progcap_status checkpoint(std::string_view key, std::string_view value) = 0;
  virtual std::optional<std::string> state_get(std::string_view key) = 0;
  virtual progcap_status state_put(std::string_view key, std::string_view value) = 0;
  virtual progcap_status state_delete(std::string_view key) = 0;
  virtual void metric_add(std::string_view name, int64_t delta) = 0;
  virtual void metric_set(std::string_view name, double value) = 0;
  virtual std::optional<std::string> secret(std::string_view name) = 0;
  virtual std::optional<std::string> info(std::string_view key) = 0;
  virtual progcap_status http(const progcap_http_request& request, progcap_http_response_cb cb, void* user) = 0;
  virtual void dead_letter(std::string_view stream, std::string_view record, std::string_view reason) = 0;
  virtual void progress(std::string_view item, int64_t done, int64_t total) = 0;
  virtual bool cancelled() = 0;
  /// Returns true when interrupted by cancellation.
  virtual bool wait(uint64_t ms) = 0;
};

/// Receives rows from emit_row.
class RowSink {
 public:
  virtual ~RowSink() = default;
  virtual progcap_status emit(uint32_t stream, const progcap_value* values, uint32_t count, std::string& error) = 0;
};

/// Receives row rejections from a sink during write().
class RowRejector {
 public:
  virtual ~RowRejector() = default;
  virtual void reject(uint64_t row, std::string_view reason) = 0;
};

/// The process-wide function table handed to plugins.
const progcap_host_api* host_api() noexcept;

}  // namespace progcap::core

// Definitions of the ABI's opaque handles (host side).
struct progcap_host_ctx {
  progcap::core::HostServices* services;
};
struct progcap_emitter {
  progcap::core::RowSink* sink;
};
struct progcap_batch_ctx {
  progcap::core::RowRejector* rejector;
};
struct progcap_error {
  progcap_status code = PROGCAP_OK;
  std::string message;
};
