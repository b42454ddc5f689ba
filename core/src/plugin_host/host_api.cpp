// The progcap_host_api function table: thin C trampolines onto HostServices.
// No exception may escape into plugin code, so each entry catches.
#include <progcap/core/host_services.hpp>
#include <progcap/core/logging.hpp>

#include <spdlog/spdlog.h>

#include <cstring>

namespace progcap::core {
namespace {

std::string_view sv(progcap_str s) noexcept { return s.len == 0 || s.data == nullptr ? std::string_view{} : std::string_view(s.data, s.len); }

spdlog::level::level_enum to_spd(progcap_log_level l) noexcept {
  switch (l) {
    case PROGCAP_LOG_TRACE: return spdlog::level::trace;
    case PROGCAP_LOG_DEBUG: return spdlog::level::debug;
    case PROGCAP_LOG_INFO: return spdlog::level::info;
    case PROGCAP_LOG_WARN: return spdlog::level::warn;
    default: return spdlog::level::err;
  }
}

template <class F, class R>
R guarded(R fallback, F&& f) noexcept {
  try {
    return f();
  } catch (...) {
    return fallback;
  }
}

void h_log(progcap_host_ctx* ctx, progcap_log_level level, progcap_str msg) {
  guarded(0, [&] {
    if (ctx != nullptr && ctx->services != nullptr) {
      ctx->services->log(level, sv(msg));
    } else {
      logger()->log(to_spd(level), "[plugin] {}", sv(msg));
    }
    return 0;
  });
}

uint8_t h_log_enabled(progcap_host_ctx* ctx, progcap_log_level level) {
  return guarded<>(uint8_t{1}, [&]() -> uint8_t {
    if (ctx != nullptr && ctx->services != nullptr) return ctx->services->log_enabled(level) ? 1 : 0;
    return logger()->should_log(to_spd(level)) ? 1 : 0;
  });
}

void h_error_set(progcap_error* err, progcap_status code, progcap_str msg) {
  guarded(0, [&] {
    if (err != nullptr) {
      err->code = code;
      err->message.assign(sv(msg));
    }
    return 0;
  });
}

progcap_status h_emit_row(progcap_emitter* out, uint32_t stream, const progcap_value* values, uint32_t count,
                          progcap_error* err) {
  return guarded<>(progcap_status{PROGCAP_ERR_FATAL}, [&]() -> progcap_status {
    if (out == nullptr || out->sink == nullptr) return PROGCAP_ERR_FATAL;
    std::string why;
    progcap_status s = out->sink->emit(stream, values, count, why);
    if (s != PROGCAP_OK && err != nullptr) {
      err->code = s;
      err->message = why;
    }
    return s;
  });
}

progcap_status h_checkpoint(progcap_host_ctx* ctx, progcap_str key, progcap_str value) {
  return guarded<>(progcap_status{PROGCAP_ERR_IO}, [&] { return ctx->services->checkpoint(sv(key), sv(value)); });
}

progcap_status h_state_get(progcap_host_ctx* ctx, progcap_str key, progcap_str_cb cb, void* user) {
  return guarded<>(progcap_status{PROGCAP_ERR_IO}, [&]() -> progcap_status {
    auto v = ctx->services->state_get(sv(key));
    if (!v) return PROGCAP_ERR_NOT_FOUND;
    cb(user, progcap_str{v->data(), v->size()});
    return PROGCAP_OK;
  });
}

progcap_status h_state_put(progcap_host_ctx* ctx, progcap_str key, progcap_str value) {
  return guarded<>(progcap_status{PROGCAP_ERR_IO}, [&] { return ctx->services->state_put(sv(key), sv(value)); });
}

progcap_status h_state_delete(progcap_host_ctx* ctx, progcap_str key) {
  return guarded<>(progcap_status{PROGCAP_ERR_IO}, [&] { return ctx->services->state_delete(sv(key)); });
}

void h_metric_add(progcap_host_ctx* ctx, progcap_str name, int64_t delta) {
  guarded(0, [&] {
    ctx->services->metric_add(sv(name), delta);
    return 0;
  });
}

void h_metric_set(progcap_host_ctx* ctx, progcap_str name, double value) {
  guarded(0, [&] {
    ctx->services->metric_set(sv(name), value);
    return 0;
  });
}

progcap_status h_secret_get(progcap_host_ctx* ctx, progcap_str name, progcap_str_cb cb, void* user) {
  return guarded<>(progcap_status{PROGCAP_ERR_NOT_FOUND}, [&]() -> progcap_status {
    auto v = ctx->services->secret(sv(name));
    if (!v) return PROGCAP_ERR_NOT_FOUND;
    cb(user, progcap_str{v->data(), v->size()});
    return PROGCAP_OK;
  });
}

progcap_status h_info_get(progcap_host_ctx* ctx, progcap_str key, progcap_str_cb cb, void* user) {
  return guarded<>(progcap_status{PROGCAP_ERR_NOT_FOUND}, [&]() -> progcap_status {
    auto v = ctx->services->info(sv(key));
    if (!v) return PROGCAP_ERR_NOT_FOUND;
    cb(user, progcap_str{v->data(), v->size()});
    return PROGCAP_OK;
  });
}

progcap_status h_http_request(progcap_host_ctx* ctx, const progcap_http_request* req, progcap_http_response_cb cb,
                              void* user, progcap_error* err) {
  return guarded<>(progcap_status{PROGCAP_ERR_FATAL}, [&]() -> progcap_status {
    if (req == nullptr || cb == nullptr) return PROGCAP_ERR_FATAL;
    // Copy the request defensively (size-prefixed, may be older/smaller).
    progcap_http_request r{};
    uint32_t size = req->struct_size;
    if (size > sizeof r) {
      if (err != nullptr) {
        err->code = PROGCAP_ERR_FATAL;
        err->message = "progcap_http_request is larger than this host supports";
      }
      return PROGCAP_ERR_FATAL;
    }
    std::memcpy(static_cast<void*>(&r), req, size);
    return ctx->services->http(r, cb, user);
  });
}

void h_reject_row(progcap_batch_ctx* batch, uint64_t row, progcap_str reason) {
  guarded(0, [&] {
    if (batch != nullptr && batch->rejector != nullptr) batch->rejector->reject(row, sv(reason));
    return 0;
  });
}

void h_dead_letter(progcap_host_ctx* ctx, progcap_str stream, progcap_str record, progcap_str reason) {
  guarded(0, [&] {
    ctx->services->dead_letter(sv(stream), sv(record), sv(reason));
    return 0;
  });
}

void h_progress(progcap_host_ctx* ctx, progcap_str item, int64_t done, int64_t total) {
  guarded(0, [&] {
    ctx->services->progress(sv(item), done, total);
    return 0;
  });
}

uint8_t h_cancelled(progcap_host_ctx* ctx) {
  return guarded<>(uint8_t{1}, [&]() -> uint8_t { return ctx->services->cancelled() ? 1 : 0; });
}

uint8_t h_wait(progcap_host_ctx* ctx, uint64_t ms) {
  return guarded<>(uint8_t{1}, [&]() -> uint8_t { return ctx->services->wait(ms) ? 1 : 0; });
}

progcap_host_api make_api() noexcept {
  progcap_host_api a{};
  a.struct_size = sizeof(progcap_host_api);
  a.abi_version = PROGCAP_ABI_VERSION;
  a.log = &h_log;
  a.log_enabled = &h_log_enabled;
  a.error_set = &h_error_set;
  a.emit_row = &h_emit_row;
  a.checkpoint = &h_checkpoint;
  a.state_get = &h_state_get;
  a.state_put = &h_state_put;
  a.state_delete = &h_state_delete;
  a.metric_add = &h_metric_add;
  a.metric_set = &h_metric_set;
  a.secret_get = &h_secret_get;
  a.info_get = &h_info_get;
  a.http_request = &h_http_request;
  a.reject_row = &h_reject_row;
  a.dead_letter = &h_dead_letter;
  a.progress = &h_progress;
  a.cancelled = &h_cancelled;
  a.wait = &h_wait;
  return a;
}

}  // namespace

const progcap_host_api* host_api() noexcept {
  static const progcap_host_api api = make_api();
  return &api;
}

}  // namespace progcap::core
