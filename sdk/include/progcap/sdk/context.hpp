// progcap C++ SDK — host services for a component instance: logging,
// state, checkpoints, metrics, secrets, HTTP, progress and cancellation.
#pragma once

#include <progcap/abi/progcap_plugin.h>
#include <progcap/sdk/status.hpp>

#include <cstdint>
#include <exception>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace progcap::sdk {

namespace detail {
/// The host table handed to progcap_plugin_entry; one per loaded library.
inline const progcap_host_api*& host_api() noexcept {
  static const progcap_host_api* api = nullptr;
  return api;
}

inline void append_arg(std::ostringstream& os, std::string_view s) { os << s; }
template <class T>
void append_arg(std::ostringstream& os, const T& v) {
  os << v;
}

/// Minimal "{}" formatter so plugins need no formatting library.
template <class... Args>
std::string format(std::string_view fmt, const Args&... args) {
  if constexpr (sizeof...(Args) == 0) {
    return std::string(fmt);
  } else {
    std::ostringstream os;
    size_t pos = 0;
    auto next = [&](auto const& arg) {
      size_t open = fmt.find("{}", pos);
      if (open == std::string_view::npos) return;
      os << fmt.substr(pos, open - pos);
      append_arg(os, arg);
      pos = open + 2;
    };
    (next(args), ...);
    os << fmt.substr(pos);
    return os.str();
  }
}

inline void copy_str(void* user, progcap_str v) { static_cast<std::string*>(user)->assign(from_abi(v)); }
}  // namespace detail

enum class LogLevel : int32_t {
  Trace = PROGCAP_LOG_TRACE,
  Debug = PROGCAP_LOG_DEBUG,
  Info = PROGCAP_LOG_INFO,
  Warn = PROGCAP_LOG_WARN,
  Error = PROGCAP_LOG_ERROR,
};

struct HttpHeader {
  std::string name;
  std::string value;
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<HttpHeader> headers;
  std::string body;
  std::string quota_key;  // who pays (shared governor); empty = ungoverned
  std::string endpoint;   // metrics label
  uint32_t flags = 0;     // PROGCAP_HTTP_*
  uint32_t timeout_ms = 0;
  uint32_t max_attempts = 0;
  uint64_t max_wait_ms = 0;  // longest wait for rate-limit quota (0 = host default)
};

struct HttpResponse {
  int status = 0;  // 0 = no response (see error)
  std::vector<HttpHeader> headers;  // names lower-case
  std::string body;
  std::string error;
  uint32_t attempts = 0;

  /// First header with this (lower-case) name.
  [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const {
    for (const auto& h : headers) {
      if (h.name == name) return std::string_view(h.value);
    }
    return std::nullopt;
  }
};

/// Host services bound to one component instance. Cheap to copy.
class Context {
 public:
  Context(const progcap_host_api* host, progcap_host_ctx* ctx) noexcept : host_(host), ctx_(ctx) {}

  [[nodiscard]] const progcap_host_api* host() const noexcept { return host_; }
  [[nodiscard]] progcap_host_ctx* raw() const noexcept { return ctx_; }

  // ---- logging -------------------------------------------------------
  void log(LogLevel level, std::string_view msg) const {
    host_->log(ctx_, static_cast<progcap_log_level>(level), to_abi(msg));
  }
  [[nodiscard]] bool log_enabled(LogLevel level) const {
    return host_->log_enabled(ctx_, static_cast<progcap_log_level>(level)) != 0;
  }
  template <class... A>
  void debug(std::string_view fmt, const A&... a) const {
    if (log_enabled(LogLevel::Debug)) log(LogLevel::Debug, detail::format(fmt, a...));
  }
  template <class... A>
  void info(std::string_view fmt, const A&... a) const {
    if (log_enabled(LogLevel::Info)) log(LogLevel::Info, detail::format(fmt, a...));
  }
  template <class... A>
  void warn(std::string_view fmt, const A&... a) const {
    log(LogLevel::Warn, detail::format(fmt, a...));
  }
  template <class... A>
  void error(std::string_view fmt, const A&... a) const {
    log(LogLevel::Error, detail::format(fmt, a...));
  }

  // ---- state ---------------------------------------------------------
  [[nodiscard]] std::optional<std::string> state_get(std::string_view key) const {
    std::string out;
    progcap_status s = host_->state_get(ctx_, to_abi(key), &detail::copy_str, &out);
    if (s == PROGCAP_OK) return out;
    if (s == PROGCAP_ERR_NOT_FOUND) return std::nullopt;
    throw Error(static_cast<Status>(s), "state_get failed for key '" + std::string(key) + "'");
  }
  void state_put(std::string_view key, std::string_view value) const {
    progcap_status s = host_->state_put(ctx_, to_abi(key), to_abi(value));
    if (s != PROGCAP_OK) throw Error(static_cast<Status>(s), "state_put failed for key '" + std::string(key) + "'");
  }
  void state_delete(std::string_view key) const {
    progcap_status s = host_->state_delete(ctx_, to_abi(key));
    if (s != PROGCAP_OK && s != PROGCAP_ERR_NOT_FOUND) {
      throw Error(static_cast<Status>(s), "state_delete failed for key '" + std::string(key) + "'");
    }
  }
  /// Commits key=value once everything emitted so far is acknowledged by every sink.
  void checkpoint(std::string_view key, std::string_view value) const {
    progcap_status s = host_->checkpoint(ctx_, to_abi(key), to_abi(value));
    if (s == PROGCAP_ERR_CANCELLED) throw CancelledError();
    if (s != PROGCAP_OK) throw Error(static_cast<Status>(s), "checkpoint failed for key '" + std::string(key) + "'");
  }

  // ---- metrics, progress ----------------------------------------------
  void metric_add(std::string_view name, int64_t delta = 1) const { host_->metric_add(ctx_, to_abi(name), delta); }
  void metric_set(std::string_view name, double value) const { host_->metric_set(ctx_, to_abi(name), value); }
  void progress(std::string_view item, int64_t done, int64_t total = -1) const {
    host_->progress(ctx_, to_abi(item), done, total);
  }

  // ---- secrets and run info -------------------------------------------
  [[nodiscard]] std::optional<std::string> secret(std::string_view name) const {
    std::string out;
    if (host_->secret_get(ctx_, to_abi(name), &detail::copy_str, &out) != PROGCAP_OK) return std::nullopt;
    return out;
  }
  /// Run information: "run_id", "pipeline", "step", "component", "instance",
  /// "dry_run", "state_dir", "host_version".
  [[nodiscard]] std::optional<std::string> run_info(std::string_view key) const {
    std::string out;
    if (host_->info_get(ctx_, to_abi(key), &detail::copy_str, &out) != PROGCAP_OK) return std::nullopt;
    return out;
  }

  // ---- cancellation ---------------------------------------------------
  [[nodiscard]] bool cancelled() const { return host_->cancelled(ctx_) != 0; }
  /// Sleeps up to `ms`; returns false if the run started stopping meanwhile.
  bool wait(uint64_t ms) const { return host_->wait(ctx_, ms) == 0; }

  // ---- HTTP ------------------------------------------------------------
  /// Sends a request through the host (shared quota governor, retries).
  /// Throws CancelledError when the run is stopping.
  [[nodiscard]] HttpResponse http(const HttpRequest& req) const {
    return http(req, [](HttpResponse& r, std::string_view body) { r.body.assign(body); });
  }

  /// Like http(req), without copying the body: `consume(response, body)` gets
  /// the response (status, headers, error; `body` empty) and a view of the
  /// host's buffer, valid only during the call — e.g. to parse a large answer
  /// in place. It runs on this thread before http() returns and may call the
  /// other Context functions (emit rows, log); it may also fill
  /// `response.body`, which http() returns. An exception it throws is
  /// rethrown here once the host call has returned (never across the ABI).
  template <class Consume>
  [[nodiscard]] HttpResponse http(const HttpRequest& req, Consume&& consume) const {
    std::vector<progcap_http_header> hdrs;
    hdrs.reserve(req.headers.size());
    for (const auto& h : req.headers) hdrs.push_back(progcap_http_header{to_abi(h.name), to_abi(h.value)});
    progcap_http_request r{};
    r.struct_size = sizeof(r);
    r.flags = req.flags;
    r.method = to_abi(req.method);
    r.url = to_abi(req.url);
    r.header_count = static_cast<uint32_t>(hdrs.size());
    r.timeout_ms = req.timeout_ms;
    r.headers = hdrs.data();
    r.body = to_abi(req.body);
    r.quota_key = to_abi(req.quota_key);
    r.endpoint = to_abi(req.endpoint);
    r.max_attempts = req.max_attempts;
    r.max_wait_ms = req.max_wait_ms;
    struct Call {
      HttpResponse out;
      std::remove_reference_t<Consume>* consume;
      std::exception_ptr failure;
    } call{HttpResponse{}, &consume, nullptr};
    auto cb = [](void* user, const progcap_http_response* resp) {
      auto* c = static_cast<Call*>(user);
      HttpResponse& o = c->out;
      o.status = resp->status;
      o.attempts = resp->attempts;
      o.error.assign(from_abi(resp->error));
      o.headers.clear();
      o.headers.reserve(resp->header_count);
      for (uint32_t i = 0; i < resp->header_count; ++i) {
        o.headers.push_back(HttpHeader{std::string(from_abi(resp->headers[i].name)),
                                       std::string(from_abi(resp->headers[i].value))});
      }
      try {
        (*c->consume)(o, from_abi(resp->body));
      } catch (...) {
        c->failure = std::current_exception();
      }
    };
    // err may be NULL: transport failures are reported in the response itself.
    progcap_status s = host_->http_request(ctx_, &r, cb, &call, nullptr);
    if (call.failure) std::rethrow_exception(call.failure);
    if (s == PROGCAP_ERR_CANCELLED) throw CancelledError();
    if (s != PROGCAP_OK) throw Error(static_cast<Status>(s), "http request failed: " + call.out.error);
    return std::move(call.out);
  }

  /// Sends a malformed source record to the dead-letter file.
  void dead_letter(std::string_view stream, std::string_view record_json, std::string_view reason) const {
    host_->dead_letter(ctx_, to_abi(stream), to_abi(record_json), to_abi(reason));
  }

 private:
  const progcap_host_api* host_;
  progcap_host_ctx* ctx_;
};

}  // namespace progcap::sdk
